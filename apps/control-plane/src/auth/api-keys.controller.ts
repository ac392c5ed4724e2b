import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiDoc, ApiProblems, ApiWrite } from '../common/openapi.js';
import { ApiKeysService } from './api-keys.service.js';
import { ApiKeyDto, CreateApiKeyDto, CreatedApiKeyDto } from './dto/api-key.dto.js';
import { CurrentPrincipal, type Principal, RequireRole } from './principal.js';

@ApiTags('api-keys')
@ApiBearerAuth()
@RequireRole('admin')
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @ApiDoc('Create an API key', 'Admin only. The key itself is in this answer and nowhere else; only its hash is stored.')
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiWrite()
  async create(@CurrentPrincipal() by: Principal, @Body() body: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    const { apiKey, key } = await this.apiKeys.create(by, body.name, body.role);
    return { ...ApiKeyDto.from(apiKey), key };
  }

  @Get()
  @ApiDoc('List API keys', 'Admin only. Names, roles and key prefixes; never the keys.')
  @ApiOkResponse({ type: [ApiKeyDto] })
  @ApiProblems(401, 403)
  async list(): Promise<ApiKeyDto[]> {
    return (await this.apiKeys.list()).map((k) => ApiKeyDto.from(k));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiDoc('Revoke an API key', 'Admin only. The key stops working at once.')
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiWrite(404)
  async revoke(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    await this.apiKeys.revoke(by, id);
  }
}
