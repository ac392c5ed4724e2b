import { Body, Controller, Delete, Get, HttpCode, Inject, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiDoc, ApiProblems, ApiWrite } from '../common/openapi.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { SigningService } from '../keys/signing.service.js';
import { CurrentPrincipal, type Principal, Public, RequireRole } from '../auth/principal.js';
import {
  CreatedEnrollmentTokenDto,
  CreateEnrollmentTokenDto,
  EnrollChallengeDto,
  EnrollChallengeResponseDto,
  EnrollDto,
  EnrollmentTokenDto,
  EnrollResponseDto,
} from './dto/enrollment.dto.js';
import { EnrollmentService } from './enrollment.service.js';
import { NodeIdentityService } from './node-identity.service.js';
import { DEFAULT_TOKEN_LIFETIME_SECONDS, DEFAULT_TOKEN_USES } from './token-policy.js';

@ApiTags('enrollment')
@ApiBearerAuth()
@RequireRole('admin')
@Controller('v1/enrollment-tokens')
export class EnrollmentTokensController {
  constructor(private readonly enrollment: EnrollmentService) {}

  @Post()
  @ApiDoc('Create an enrolment token', 'Admin only. A node presents the token once to enrol (POST /v1/enroll) and gets its labels. Single use and valid 24 h by default; the token is in this answer only.')
  @ApiCreatedResponse({ type: CreatedEnrollmentTokenDto })
  @ApiWrite()
  async create(@CurrentPrincipal() by: Principal, @Body() body: CreateEnrollmentTokenDto): Promise<CreatedEnrollmentTokenDto> {
    const { record, token } = await this.enrollment.createToken(by, {
      name: body.name,
      labels: body.labels ?? {},
      expiresInSeconds: body.expiresInSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS,
      maxUses: body.maxUses ?? DEFAULT_TOKEN_USES,
    });
    return { ...EnrollmentTokenDto.from(record), token };
  }

  @Get()
  @ApiDoc('List enrolment tokens', 'Admin only. Names, labels, uses and expiry; never the tokens.')
  @ApiOkResponse({ type: [EnrollmentTokenDto] })
  @ApiProblems(401, 403)
  async list(): Promise<EnrollmentTokenDto[]> {
    return (await this.enrollment.listTokens()).map((t) => EnrollmentTokenDto.from(t));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiDoc('Revoke an enrolment token', 'Admin only. Nodes already enrolled with it stay.')
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiWrite(404)
  async revoke(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    await this.enrollment.revokeToken(by, id);
  }
}

/**
 * Nodes call these themselves. A new node's credential is the enrolment token; an enrolled node's is a
 * signature by its registered key over a challenge from `POST /v1/enroll/challenge`.
 */
@ApiTags('enrollment')
@Controller('v1/enroll')
export class EnrollController {
  constructor(
    private readonly enrollment: EnrollmentService,
    private readonly identity: NodeIdentityService,
    private readonly signing: SigningService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Public()
  @Post()
  @HttpCode(200)
  @ApiDoc('Enrol a node', 'Called by nodes. A new node presents an enrolment token; an enrolled node proves its registered key with a signed challenge. Answers the node id, its secret (MQTT password), labels, the root of trust and the broker settings.')
  @ApiOkResponse({ type: EnrollResponseDto })
  @ApiProblems(400, 401, 409)
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

  @Public()
  @Post('challenge')
  @HttpCode(200)
  @ApiDoc('Get an enrolment challenge', 'Called by enrolled nodes: a single-use nonce to sign with the node key for POST /v1/enroll.')
  @ApiOkResponse({ type: EnrollChallengeResponseDto })
  @ApiProblems(400, 404)
  async challenge(@Body() body: EnrollChallengeDto): Promise<EnrollChallengeResponseDto> {
    const { nonce, expiresAt } = await this.identity.challenge(body.nodeKey);
    return { nonce, expiresAt: expiresAt.toISOString() };
  }
}
