import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `nodes.last_heartbeat_seq`: the seq of the newest heartbeat that set the node's current model. Two
 * replicas (or two ingest writers) can store one node's heartbeats out of order; the older one then no
 * longer moves the current model back (telemetry/telemetry.repository.ts, touchNodes).
 */
export class NodeHeartbeatOrder1764780000000 implements MigrationInterface {
  name = 'NodeHeartbeatOrder1764780000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "nodes" ADD "last_heartbeat_seq" bigint`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "nodes" DROP COLUMN "last_heartbeat_seq"`);
  }
}
