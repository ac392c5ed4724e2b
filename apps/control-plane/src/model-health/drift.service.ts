import { Inject, Injectable } from '@nestjs/common';
import { NotFoundError } from '#common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import type { DriftQuery, VersionDriftDto } from './dto/drift.dto.js';
import { DriftRepository } from './drift.repository.js';
import { ModelStatsRepository } from './model-stats.repository.js';
import { DEFAULT_WINDOW, parseWindow } from './stats-query.js';

/** Drift per version and node (docs/drift.md): the latest score each node reported in the window. */
@Injectable()
export class DriftService {
  constructor(
    private readonly versions: ModelStatsRepository,
    private readonly repository: DriftRepository,
    @Inject(APP_CONFIG) private readonly config: Pick<AppConfig, 'drift'>,
  ) {}

  async versionDrift(model: string, version: string, query: DriftQuery): Promise<VersionDriftDto> {
    const windowSeconds = parseWindow(query.window);
    const versions = await this.versions.versions(model, version, query.variant);
    if (versions.length === 0) throw new NotFoundError('model version', `${model}@${version}${query.variant ? `/${query.variant}` : ''}`);
    const threshold = this.config.drift.eventThreshold;
    const nodes = (await this.repository.latestPerNode(versions.map((v) => v.id), windowSeconds)).map((r) => {
      const score = Math.max(r.input, r.confidence);
      return { ...r, score, at: r.at.toISOString(), above: score > threshold };
    });
    const scores = nodes.map((n) => n.score);
    return {
      model,
      version,
      window: query.window ?? DEFAULT_WINDOW,
      threshold,
      meanScore: scores.length === 0 ? null : scores.reduce((a, s) => a + s, 0) / scores.length,
      maxScore: scores.length === 0 ? null : Math.max(...scores),
      nodes,
    };
  }
}
