import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { NotFoundError, ValidationError } from '#common';
import type { Envelope, RootDocument } from '#trust';
import { Public, RequireRole } from '../auth/principal.js';
import { ApiDoc, ApiProblems, SignedEnvelopeDto } from '../common/openapi.js';
import { SigningService } from './signing.service.js';

export class TrustReloadDto {
  @ApiProperty({ description: 'The root version this replica signs under after the reload' }) rootVersion!: number;
  @ApiProperty({ description: 'Whether the key directory held a change' }) changed!: boolean;
}

const VERSION = /^[1-9]\d{0,8}$/;

/** Roots are public data (public keys, thresholds, revocations): anyone may fetch them; nodes verify them. */
@ApiTags('trust')
@Controller('v1/trust')
export class TrustController {
  constructor(private readonly signing: SigningService) {}

  /** The root this replica signs under now. */
  @Public()
  @Get('root')
  @ApiDoc('The current root of trust', 'The signed root this replica signs under now: public keys, role thresholds and revocations. Public; nodes verify it against the root they pin.')
  @ApiOkResponse({ type: SignedEnvelopeDto })
  current(): Envelope<RootDocument> {
    return this.signing.root;
  }

  /** One root version, for a node (or an auditor) walking the chain over HTTP. */
  @Public()
  @Get('root/:version')
  @ApiDoc('One root version', 'A root of the chain by its version, for a node (or an auditor) walking from the root it pins to the current one over HTTP.')
  @ApiOkResponse({ type: SignedEnvelopeDto })
  @ApiProblems(400, 404)
  async version(@Param('version') version: string): Promise<Envelope<RootDocument>> {
    if (!VERSION.test(version)) throw new ValidationError('a root version is a positive integer', [{ field: 'version', message: 'a positive integer' }]);
    const root = await this.signing.rootVersion(Number(version));
    if (!root) throw new NotFoundError('root version', version);
    return root;
  }

  /** Makes this replica read the key directory now instead of at its next periodic check. */
  @ApiBearerAuth()
  @RequireRole('admin')
  @Post('reload')
  @HttpCode(200)
  @ApiDoc('Reload the signing keys', 'Admin only. Makes this replica read the key directory now instead of at its next periodic check (TRUST_RELOAD_MS).')
  @ApiOkResponse({ type: TrustReloadDto })
  @ApiProblems(401, 403)
  async reload(): Promise<TrustReloadDto> {
    const { version, changed } = await this.signing.reload();
    return { rootVersion: version, changed };
  }
}
