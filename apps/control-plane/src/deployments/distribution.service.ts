import { Injectable } from '@nestjs/common';
import { chunkCount, encodeChunk } from '#protocol';
import { ArtifactStore } from '../artifacts/artifact-store.js';
import { MessagingMetrics } from '../messaging/messaging.metrics.js';
import { MqttConnection } from '../messaging/mqtt-connection.js';
import { DeploymentsRepository } from './deployments.repository.js';

/** Publishes in flight at once: enough to keep the broker busy without flooding mqtt.js's queue. */
const PUBLISH_WINDOW = 16;

export interface ArtifactLayout {
  readonly sha256: string;
  readonly size: number;
  readonly chunkSize: number;
}

/**
 * Artifact bytes over MQTT. A deployment's chunks are published once on the artifact's broadcast topic
 * and the broker fans them out to every node of the batch; a node that missed some names them and gets
 * just those, on its own topic.
 */
@Injectable()
export class DistributionService {
  constructor(
    private readonly deployments: DeploymentsRepository,
    private readonly store: ArtifactStore,
    private readonly mqtt: MqttConnection,
    private readonly metrics: MessagingMetrics,
  ) {}

  /** Publishes every chunk once; returns how many publishes that took. */
  async broadcast(layout: ArtifactLayout): Promise<number> {
    const count = chunkCount(layout.size, layout.chunkSize);
    const indices = Array.from({ length: count }, (_, i) => i);
    await this.publishChunks(layout, indices, 'broadcast', (i) => this.mqtt.topics.artifactChunk(layout.sha256, i));
    return count;
  }

  /** Sends chunks to one node, on its own topic (the repair path: `RepairService` decides which). */
  async sendRepair(nodeId: string, layout: ArtifactLayout, indices: readonly number[]): Promise<void> {
    await this.publishChunks(layout, indices, 'repair', (i) => this.mqtt.topics.repairChunk(nodeId, layout.sha256, i));
  }

  /**
   * The artifact's layout in the node's latest deployment of it, and that deployment (repair budgets are
   * per deployment). `sha256` names the bytes that travel: a version's encoded blob when it has one
   * (what its chunks were cut from), else its artifact.
   */
  async assignedArtifact(nodeId: string, sha256: string): Promise<{ layout: ArtifactLayout; deploymentId: string } | undefined> {
    const row = await this.deployments.assignedArtifact(nodeId, sha256);
    return row ? { layout: { sha256, size: row.sizeBytes, chunkSize: row.chunkSize }, deploymentId: row.id } : undefined;
  }

  private async publishChunks(
    layout: ArtifactLayout,
    indices: readonly number[],
    mode: 'broadcast' | 'repair',
    topicFor: (index: number) => string,
  ): Promise<void> {
    if (indices.length === 0) return;
    const count = chunkCount(layout.size, layout.chunkSize);
    // From disk or by ranged GETs through the S3 driver's block cache (one GET serves several chunks).
    const reader = await this.store.openRanges(layout.sha256);
    try {
      let next = 0;
      const worker = async () => {
        while (next < indices.length) {
          const index = indices[next++] as number;
          const length = Math.min(layout.chunkSize, layout.size - index * layout.chunkSize);
          const data = await reader.read(index * layout.chunkSize, length);
          // Counted before the publish: a node can hold the chunk before our PUBACK arrives.
          this.metrics.chunkPublishes.inc({ mode });
          await this.mqtt.publish(topicFor(index), encodeChunk({ index, count, data }), { qos: 1 });
        }
      };
      await Promise.all(Array.from({ length: Math.min(PUBLISH_WINDOW, indices.length) }, worker));
    } finally {
      await reader.close();
    }
  }
}
