import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Live events (issue 12). `events` is the one stored stream (catalogue in
 * apps/control-plane/src/events/catalogue.ts): its identity id orders it and is the cursor of
 * `GET /v1/events` and of SSE's Last-Event-ID. A statement trigger notifies `edgefleet_events` on commit,
 * so every replica's feed reads new rows at once (the payload carries nothing: readers go by id).
 * Webhooks keep their secret in clear (the HMAC needs it); deliveries are the delivery log, one row per
 * (webhook, event); `webhook_dispatch_cursor` is the last event fanned out to deliveries.
 */
export class Events1764500000000 implements MigrationInterface {
  name = 'Events1764500000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE "events" (
        "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
        "type" character varying(60) NOT NULL,
        "rollout_id" uuid,
        "node_id" uuid,
        "model_version_id" uuid,
        "payload" jsonb NOT NULL DEFAULT '{}',
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "events_pkey" PRIMARY KEY ("id"))`);
    await db.query(`CREATE INDEX "events_type_id_idx" ON "events" ("type", "id")`);
    await db.query(`CREATE INDEX "events_rollout_id_id_idx" ON "events" ("rollout_id", "id")`);
    await db.query(`CREATE INDEX "events_node_id_id_idx" ON "events" ("node_id", "id")`);
    await db.query(`CREATE INDEX "events_created_at_idx" ON "events" ("created_at")`);
    await db.query(`
      CREATE FUNCTION "events_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_notify('edgefleet_events', ''); RETURN NULL; END $$`);
    await db.query(`CREATE TRIGGER "events_notify" AFTER INSERT ON "events" FOR EACH STATEMENT EXECUTE FUNCTION "events_notify"()`);
    await db.query(`
      CREATE TABLE "webhooks" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "url" character varying(2000) NOT NULL,
        "event_types" character varying(60) array NOT NULL DEFAULT '{}',
        "secret" character varying(100) NOT NULL,
        "created_by" character varying(200) NOT NULL,
        "consecutive_failures" integer NOT NULL DEFAULT 0,
        "disabled_at" TIMESTAMP WITH TIME ZONE,
        "disabled_reason" character varying(300),
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "webhooks_pkey" PRIMARY KEY ("id"))`);
    await db.query(`
      CREATE TABLE "webhook_deliveries" (
        "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
        "webhook_id" uuid NOT NULL,
        "event_id" bigint NOT NULL,
        "state" character varying(16) NOT NULL DEFAULT 'pending',
        "attempts" integer NOT NULL DEFAULT 0,
        "last_status_code" integer,
        "last_error" character varying(300),
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "delivered_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "webhook_deliveries_webhook_id_event_id_key" UNIQUE ("webhook_id", "event_id"),
        CONSTRAINT "webhook_deliveries_webhook_id_fkey" FOREIGN KEY ("webhook_id") REFERENCES "webhooks"("id") ON DELETE CASCADE ON UPDATE NO ACTION)`);
    await db.query(`CREATE INDEX "webhook_deliveries_webhook_id_id_idx" ON "webhook_deliveries" ("webhook_id", "id")`);
    await db.query(`
      CREATE TABLE "webhook_dispatch_cursor" (
        "id" integer NOT NULL,
        "last_event_id" bigint NOT NULL,
        CONSTRAINT "webhook_dispatch_cursor_pkey" PRIMARY KEY ("id"))`);
    await db.query(`INSERT INTO "webhook_dispatch_cursor" ("id", "last_event_id") VALUES (1, 0)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE "webhook_dispatch_cursor"`);
    await db.query(`DROP TABLE "webhook_deliveries"`);
    await db.query(`DROP TABLE "webhooks"`);
    await db.query(`DROP TRIGGER "events_notify" ON "events"`);
    await db.query(`DROP FUNCTION "events_notify"()`);
    await db.query(`DROP TABLE "events"`);
  }
}
