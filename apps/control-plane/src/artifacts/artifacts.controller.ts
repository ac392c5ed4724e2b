import { Controller, Get, Logger, Param, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { NotFoundError, ValidationError } from '#common';
import { ApiDoc, ApiRead } from '../common/openapi.js';
import { ArtifactStore } from './artifact-store.js';
import { planDownload } from './download-plan.js';

@ApiTags('artifacts')
@ApiBearerAuth()
@Controller('v1/artifacts')
export class ArtifactsController {
  private readonly logger = new Logger(ArtifactsController.name);

  constructor(private readonly store: ArtifactStore) {}

  /** Streams an artifact from whichever store holds it; honours Range / If-Range (resumable downloads). The ETag is the digest. */
  @Get(':sha256')
  @ApiDoc('Download an artifact', 'Streams the artifact bytes; honours Range and If-Range (resumable downloads). The ETag is the sha256 digest.')
  @ApiOkResponse({ description: 'The artifact bytes', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } })
  @ApiRead(404)
  async download(@Param('sha256') sha256: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new ValidationError('artifact id must be a lowercase hex sha256 digest');
    const found = await this.store.stat(sha256);
    if (!found) throw new NotFoundError('artifact', sha256);
    const etag = `"${sha256}"`;
    const size = found.sizeBytes;
    const plan = planDownload({
      size,
      etag,
      range: req.headers.range,
      ifRange: header(req, 'if-range'),
      ifNoneMatch: header(req, 'if-none-match'),
      parseRange: (n) => req.range(n, { combine: true }),
    });
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'private, max-age=31536000, immutable');
    res.setHeader('Accept-Ranges', 'bytes');
    if (plan.status === 304) return void res.status(304).end();
    if (plan.status === 416) {
      res.setHeader('Content-Range', `bytes */${size}`);
      return void res.status(416).end();
    }
    res.setHeader('Content-Type', 'application/octet-stream');
    if (plan.status === 206) res.setHeader('Content-Range', `bytes ${plan.range.start}-${plan.range.end}/${size}`);
    res.setHeader('Content-Length', plan.status === 206 ? plan.range.end - plan.range.start + 1 : size);
    res.status(plan.status);
    if (req.method === 'HEAD') return void res.end();
    await this.send(sha256, plan.status === 206 ? plan.range : undefined, res);
  }

  private async send(sha256: string, range: { start: number; end: number } | undefined, res: Response): Promise<void> {
    // Opening fails before any byte is sent: that error still becomes a problem+json answer.
    const body = await this.store.createReadStream(sha256, range);
    try {
      await pipeline(body, res);
    } catch (error) {
      // Headers are gone: all that is left is to cut the response (pipeline has) and say why here.
      this.logger.log({ err: error, sha256 }, 'artifact download ended early');
    }
  }
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}
