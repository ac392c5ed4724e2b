import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * How far a rollup job has got: everything received before `until` is in the rollups, the rest is read
 * from the raw rows (telemetry/heartbeat-rollups.ts). One row per job (`heartbeats`).
 */
@Entity({ name: 'rollup_watermarks' })
export class RollupWatermark {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  name!: string;

  @Column({ type: 'timestamptz' })
  until!: Date;
}
