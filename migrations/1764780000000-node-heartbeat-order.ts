import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `nodes.last_heartbeat_seq` and `_at`: the seq of the heartbeat that last set the node's current model,
 * and when. Two replicas (or two ingest writers) can store one node's heartbeats out of order; an older one
 * stored within a minute after it no longer moves the current model back (telemetry/telemetry.repository.ts,
 * touchNodes). After the minute, arrival order again: a seq far ahead cannot freeze the model.
 */
export class NodeHeartbeatOrder1764780000000 implements MigrationInterface {
  name = 'NodeHeartbeatOrder1764780000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "nodes" ADD "last_heartbeat_seq" bigint`);
    await db.query(`ALTER TABLE "nodes" ADD "last_heartbeat_seq_at" TIMESTAMP WITH TIME ZONE`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE "nodes" DROP COLUMN "last_heartbeat_seq_at"`);
    await db.query(`ALTER TABLE "nodes" DROP COLUMN "last_heartbeat_seq"`);
  }
}
