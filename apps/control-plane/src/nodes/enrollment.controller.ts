import { Body, Controller, Delete, Get, HttpCode, Inject, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { SigningService } from '../keys/signing.service.js';
import { CurrentPrincipal, type Principal, Public, RequireRole } from '../auth/principal.js';
import {
  CreatedEnrollmentTokenDto,
  CreateEnrollmentTokenDto,
  EnrollDto,
  EnrollmentTokenDto,
  EnrollResponseDto,
} from './dto/enrollment.dto.js';
import { EnrollmentService } from './enrollment.service.js';

@ApiTags('enrollment')
@ApiBearerAuth()
@RequireRole('admin')
@Controller('v1/enrollment-tokens')
export class EnrollmentTokensController {
  constructor(private readonly enrollment: EnrollmentService) {}

  @Post()
  async create(@CurrentPrincipal() by: Principal, @Body() body: CreateEnrollmentTokenDto): Promise<CreatedEnrollmentTokenDto> {
    const { record, token } = await this.enrollment.createToken(by, { ...body, labels: body.labels ?? {} });
    return { ...EnrollmentTokenDto.from(record), token };
  }

  @Get()
  async list(): Promise<EnrollmentTokenDto[]> {
    return (await this.enrollment.listTokens()).map((t) => EnrollmentTokenDto.from(t));
  }

  @Delete(':id')
  @HttpCode(204)
  async revoke(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    await this.enrollment.revokeToken(by, id);
  }
}

/** Nodes call this themselves: the enrolment token in the body is the credential. */
@ApiTags('enrollment')
@Controller('v1/enroll')
export class EnrollController {
  constructor(
    private readonly enrollment: EnrollmentService,
    private readonly signing: SigningService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Public()
  @Post()
  @HttpCode(200)
  async enroll(@Body() body: EnrollDto): Promise<EnrollResponseDto> {
    const { node, nodeSecret } = await this.enrollment.enroll(body);
    return {
      nodeId: node.id,
      nodeSecret,
      labels: node.labels,
      root: { ...this.signing.root },
      mqtt: { url: this.config.mqtt.publicUrl, username: node.id, password: nodeSecret, clientId: `node-${node.id}`, namespace: this.config.mqtt.fleetNamespace },
    };
  }
}
