import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { NodeHeartbeat } from '../telemetry/node-heartbeat.entity.js';

export interface HeartbeatPoint {
  readonly sentAt: string;
  readonly cpu: number;
  readonly memMb: number;
  readonly inferences: number;
  readonly errors: number;
  readonly latencyP50Ms: number | null;
  readonly latencyP99Ms: number | null;
}

/** A node's latest heartbeats for its charts: the primary key (node_id, seq) serves the read backwards. */
@Injectable()
export class NodeHeartbeatsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async latest(nodeId: string, limit: number): Promise<HeartbeatPoint[]> {
    const rows = await this.db.getRepository(NodeHeartbeat).find({ where: { nodeId }, order: { seq: 'DESC' }, take: limit });
    return rows.reverse().map((h) => ({
      sentAt: h.sentAt.toISOString(),
      cpu: h.cpu,
      memMb: h.memMb,
      inferences: h.inferences,
      errors: h.errors,
      latencyP50Ms: h.latencyP50Ms,
      latencyP99Ms: h.latencyP99Ms,
    }));
  }
}
