import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiDoc, ApiRead } from '../common/openapi.js';
import type { Response } from 'express';
import { NotFoundError, ValidationError } from '#common';
import { ArtifactStore } from './artifact-store.js';

@ApiTags('artifacts')
@ApiBearerAuth()
@Controller('v1/artifacts')
export class ArtifactsController {
  constructor(private readonly store: ArtifactStore) {}

  /** Streams an artifact; honours Range / If-Range (resumable downloads). The ETag is the digest. */
  @Get(':sha256')
  @ApiDoc('Download an artifact', 'Streams the artifact bytes; honours Range and If-Range (resumable downloads). The ETag is the sha256 digest.')
  @ApiOkResponse({ description: 'The artifact bytes', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } })
  @ApiRead(404)
  async download(@Param('sha256') sha256: string, @Res() res: Response): Promise<void> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new ValidationError('artifact id must be a lowercase hex sha256 digest');
    if (!(await this.store.has(sha256))) throw new NotFoundError('artifact', sha256);
    res.setHeader('ETag', `"${sha256}"`);
    res.setHeader('Cache-Control', 'private, max-age=31536000, immutable');
    await new Promise<void>((resolve, reject) => {
      res.sendFile(this.store.pathFor(sha256), { etag: false, lastModified: false, acceptRanges: true, headers: { 'Content-Type': 'application/octet-stream' } }, (error) =>
        error ? reject(error) : resolve(),
      );
    });
  }
}
