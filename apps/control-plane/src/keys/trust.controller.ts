import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { NotFoundError, ValidationError } from '#common';
import type { Envelope, RootDocument } from '#trust';
import { Public, RequireRole } from '../auth/principal.js';
import { SigningService } from './signing.service.js';

const VERSION = /^[1-9]\d{0,8}$/;

/** Roots are public data (public keys, thresholds, revocations): anyone may fetch them; nodes verify them. */
@ApiTags('trust')
@Controller('v1/trust')
export class TrustController {
  constructor(private readonly signing: SigningService) {}

  /** The root this replica signs under now. */
  @Public()
  @Get('root')
  current(): Envelope<RootDocument> {
    return this.signing.root;
  }

  /** One root version, for a node (or an auditor) walking the chain over HTTP. */
  @Public()
  @Get('root/:version')
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
  async reload(): Promise<{ rootVersion: number; changed: boolean }> {
    const { version, changed } = await this.signing.reload();
    return { rootVersion: version, changed };
  }
}
