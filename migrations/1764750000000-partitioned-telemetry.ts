import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Telemetry tables become RANGE-partitioned on the time the node stamped (issue 14): `node_heartbeats`
 * and `deployment_status_events` on `sent_at`, `inference_results` on `at`. Retention then drops whole
 * partitions instead of deleting rows (retention/telemetry-partitions.*).
 *
 * Why the node's time and not `received_at`: a unique key on a partitioned table must hold the partition
 * key, and de-duplication of QoS 1 redeliveries and replayed result batches rests on it. A redelivery
 * carries the same `ts`, so (node_id, seq, sent_at) still stores it once; `received_at` differs per copy.
 *
 * Partitions live in the schema `telemetry_partitions` (the drift test and TypeORM see only `public`).
 * Each table has a DEFAULT partition for rows outside the created ranges (a node with a bad clock): they
 * are stored, never refused. `telemetry_partitions.create_partition` is the one way a range partition is
 * made, here and by the job: it moves the default partition's rows of the range into the new table and
 * ATTACHes it (SHARE UPDATE EXCLUSIVE on the parent, so ingest goes on; CREATE ... PARTITION OF would take
 * ACCESS EXCLUSIVE, and refuses while the default holds rows of the range).
 *
 * Existing rows move into the new tables: today's and the next days' into their partitions, older ones into
 * the default partition, which retention empties by batched DELETE as before.
 */
interface TelemetryTable {
  readonly name: string;
  readonly key: string;
  /** Indexes and foreign keys besides the primary key, as they stand before this migration. */
  readonly extras: readonly string[];
}

const TABLES: readonly TelemetryTable[] = [
  {
    name: 'node_heartbeats',
    key: 'sent_at',
    extras: [
      `ALTER TABLE "node_heartbeats" ADD CONSTRAINT "node_heartbeats_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
      `CREATE INDEX "node_heartbeats_drift_idx" ON "node_heartbeats" ("model_name", "model_version", "received_at") WHERE "drift_input" IS NOT NULL`,
    ],
  },
  {
    name: 'inference_results',
    key: 'at',
    extras: [
      `ALTER TABLE "inference_results" ADD CONSTRAINT "inference_results_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
      `ALTER TABLE "inference_results" ADD CONSTRAINT "inference_results_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
      `CREATE INDEX "inference_results_model_version_id_idx" ON "inference_results" ("model_version_id")`,
      `CREATE INDEX "inference_results_input_ref_idx" ON "inference_results" ("input_ref") WHERE "input_ref" IS NOT NULL`,
    ],
  },
  {
    name: 'deployment_status_events',
    key: 'sent_at',
    extras: [
      `ALTER TABLE "deployment_status_events" ADD CONSTRAINT "deployment_status_events_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
      `CREATE INDEX "deployment_status_events_deployment_id_node_id_idx" ON "deployment_status_events" ("deployment_id", "node_id")`,
    ],
  },
];

/** Days of partitions made by the migration from today on (UTC); the job keeps making them ahead. */
const INITIAL_DAYS = 3;

const CREATE_PARTITION_FUNCTION = `
  CREATE FUNCTION "telemetry_partitions"."create_partition"(parent text, key text, part text, lower timestamptz, upper timestamptz)
  RETURNS boolean LANGUAGE plpgsql AS $$
  DECLARE
    dflt text := parent || '_default';
  BEGIN
    -- Two replicas running the job at once: the second finds the partition made.
    PERFORM pg_advisory_xact_lock(hashtext('telemetry_partitions.' || parent));
    IF to_regclass(format('telemetry_partitions.%I', part)) IS NOT NULL THEN RETURN false; END IF;
    EXECUTE format('CREATE TABLE telemetry_partitions.%I (LIKE public.%I INCLUDING DEFAULTS)', part, parent);
    -- Held to the ATTACH, which refuses while the default partition holds a row of the range: no
    -- skewed-clock row of the range may land there between the move and the attach.
    EXECUTE format('LOCK TABLE telemetry_partitions.%I IN ACCESS EXCLUSIVE MODE', dflt);
    EXECUTE format('WITH moved AS (DELETE FROM telemetry_partitions.%I WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO telemetry_partitions.%I SELECT * FROM moved',
                   dflt, key, key, part) USING lower, upper;
    EXECUTE format('ALTER TABLE public.%I ATTACH PARTITION telemetry_partitions.%I FOR VALUES FROM (%L) TO (%L)', parent, part, lower, upper);
    RETURN true;
  END $$`;

export class PartitionedTelemetry1764750000000 implements MigrationInterface {
  name = 'PartitionedTelemetry1764750000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE SCHEMA "telemetry_partitions"`);
    await db.query(CREATE_PARTITION_FUNCTION);
    for (const table of TABLES) await partition(db, table);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of TABLES) await unpartition(db, table);
    await db.query(`DROP FUNCTION "telemetry_partitions"."create_partition"(text, text, text, timestamptz, timestamptz)`);
    await db.query(`DROP SCHEMA "telemetry_partitions"`);
  }
}

async function partition(db: QueryRunner, { name, key, extras }: TelemetryTable): Promise<void> {
  await renameAside(db, name, extras);
  await db.query(`CREATE TABLE "${name}" (LIKE "${name}_unpartitioned" INCLUDING DEFAULTS) PARTITION BY RANGE ("${key}")`);
  await db.query(`ALTER TABLE "${name}" ADD CONSTRAINT "${name}_pkey" PRIMARY KEY ("node_id", "seq", "${key}")`);
  for (const statement of extras) await db.query(statement);
  await db.query(`CREATE TABLE "telemetry_partitions"."${name}_default" PARTITION OF "${name}" DEFAULT`);
  for (let day = 0; day < INITIAL_DAYS; day++) {
    await db.query(
      `SELECT "telemetry_partitions"."create_partition"($1, $2, $1 || '_p' || to_char(l, 'YYYYMMDD') || '_' || to_char(l + interval '1 day', 'YYYYMMDD'), l, l + interval '1 day')
         FROM (SELECT (date_trunc('day', now() AT TIME ZONE 'UTC') + $3::int * interval '1 day') AT TIME ZONE 'UTC' AS l) d`,
      [name, key, day],
    );
  }
  await db.query(`INSERT INTO "${name}" SELECT * FROM "${name}_unpartitioned"`);
  await db.query(`DROP TABLE "${name}_unpartitioned"`);
}

async function unpartition(db: QueryRunner, { name, extras }: TelemetryTable): Promise<void> {
  await renameAside(db, name, extras);
  await db.query(`CREATE TABLE "${name}" (LIKE "${name}_unpartitioned" INCLUDING DEFAULTS)`);
  await db.query(`ALTER TABLE "${name}" ADD CONSTRAINT "${name}_pkey" PRIMARY KEY ("node_id", "seq")`);
  for (const statement of extras) await db.query(statement);
  // (node_id, seq) is the older, narrower key: of two rows that differ only by the node's time, one is kept.
  await db.query(`INSERT INTO "${name}" SELECT * FROM "${name}_unpartitioned" ON CONFLICT DO NOTHING`);
  await db.query(`DROP TABLE "${name}_unpartitioned"`);
}

/** Renames the table and frees its constraint and index names for the new table. */
async function renameAside(db: QueryRunner, name: string, extras: readonly string[]): Promise<void> {
  await db.query(`ALTER TABLE "${name}" RENAME TO "${name}_unpartitioned"`);
  await db.query(`ALTER TABLE "${name}_unpartitioned" RENAME CONSTRAINT "${name}_pkey" TO "${name}_unpartitioned_pkey"`);
  for (const statement of extras) {
    const constraint = /ADD CONSTRAINT "([^"]+)"/.exec(statement)?.[1];
    const index = /CREATE INDEX "([^"]+)"/.exec(statement)?.[1];
    if (constraint) await db.query(`ALTER TABLE "${name}_unpartitioned" RENAME CONSTRAINT "${constraint}" TO "${constraint}_old"`);
    if (index) await db.query(`ALTER INDEX "${index}" RENAME TO "${index}_old"`);
  }
}
