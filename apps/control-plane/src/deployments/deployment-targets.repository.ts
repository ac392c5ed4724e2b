import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** Queries over `deployment_targets` that the deployment services share. */
@Injectable()
export class DeploymentTargetsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Of these deployments, those whose every target has reported `downloading` or a later state (a node
   * reports it once its download store accepts chunks; a terminal state means it will take none).
   */
  async allReported(deploymentIds: readonly string[]): Promise<string[]> {
    if (deploymentIds.length === 0) return [];
    const rows = (await this.db.query(
      `SELECT deployment_id AS id FROM deployment_targets
        WHERE deployment_id = ANY($1::uuid[])
        GROUP BY deployment_id
       HAVING bool_and(state IS NOT NULL AND state <> 'received')`,
      [deploymentIds],
    )) as { id: string }[];
    return rows.map((r) => r.id);
  }
}
