import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One row of settings that belong to the installation rather than to how a process is configured. The
 * fleet namespace is written at the first boot (INSERT … ON CONFLICT DO NOTHING, so replicas that boot
 * together agree on the first one) and read from then on: a DATABASE_URL spelled differently no longer
 * changes the topics enrolled nodes listen on.
 */
export class InstallationSettings1764390000000 implements MigrationInterface {
  name = 'InstallationSettings1764390000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(
      `CREATE TABLE "installation_settings" ("singleton" boolean PRIMARY KEY DEFAULT true CHECK ("singleton"), "fleet_namespace" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now())`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE "installation_settings"`);
  }
}
