import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
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
  async create(@CurrentPrincipal() by: Principal, @Body() body: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    const { apiKey, key } = await this.apiKeys.create(by, body.name, body.role);
    return { ...ApiKeyDto.from(apiKey), key };
  }

  @Get()
  async list(): Promise<ApiKeyDto[]> {
    return (await this.apiKeys.list()).map((k) => ApiKeyDto.from(k));
  }

  @Delete(':id')
  @HttpCode(204)
  async revoke(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    await this.apiKeys.revoke(by, id);
  }
}
