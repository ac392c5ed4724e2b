import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { EventView } from '../events/catalogue.js';
import { WebhookDelivery } from './webhook-delivery.entity.js';
import { Webhook } from './webhook.entity.js';

export interface DeliveryWork {
  readonly delivery: WebhookDelivery;
  readonly webhook: Webhook;
  readonly event: EventView;
}

/** Webhooks, their delivery log and the fan-out cursor. */
@Injectable()
export class WebhooksRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async insert(tx: EntityManager, fields: Pick<Webhook, 'url' | 'eventTypes' | 'secret' | 'createdBy'>): Promise<Webhook> {
    const repo = tx.getRepository(Webhook);
    return repo.save(repo.create(fields));
  }

  list(): Promise<Webhook[]> {
    return this.db.getRepository(Webhook).find({ order: { createdAt: 'ASC' }, take: 1000 });
  }

  find(id: string): Promise<Webhook | null> {
    return this.db.getRepository(Webhook).findOneBy({ id });
  }

  /** The webhook under its row lock (a delivery failing at the same time waits, or runs first). */
  lock(tx: EntityManager, id: string): Promise<Webhook | null> {
    return tx.getRepository(Webhook).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  /** Enabling clears the disabled mark and the failure count: the count is of failures in a row since. */
  async setEnabled(tx: EntityManager, id: string, enabled: boolean, reason: string): Promise<Webhook> {
    const repo = tx.getRepository(Webhook);
    if (enabled) await repo.update({ id }, { disabledAt: null, disabledReason: null, consecutiveFailures: 0 });
    else await repo.update({ id }, { disabledAt: () => 'now()', disabledReason: reason.slice(0, 300) });
    return repo.findOneByOrFail({ id });
  }

  async remove(tx: EntityManager, id: string): Promise<boolean> {
    const result = await tx.getRepository(Webhook).delete({ id });
    return (result.affected ?? 0) > 0;
  }

  deliveries(webhookId: string, before: string | undefined, limit: number): Promise<WebhookDelivery[]> {
    const qb = this.db.getRepository(WebhookDelivery).createQueryBuilder('d').where('d.webhook_id = :webhookId', { webhookId }).orderBy('d.id', 'DESC').limit(limit);
    if (before) qb.andWhere('d.id < :before', { before });
    return qb.getMany();
  }

  /**
   * Turns the events after the cursor, up to `upTo`, into one pending delivery per matching enabled
   * webhook (set-based), and moves the cursor; under the cursor's row lock, so replicas fan out each
   * event once between them. Returns the new deliveries' ids.
   */
  fanOut(upTo: bigint): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      const [cursor] = (await tx.query(`SELECT last_event_id::text AS id FROM webhook_dispatch_cursor WHERE id = 1 FOR UPDATE`)) as { id: string }[];
      if (!cursor || BigInt(cursor.id) >= upTo) return [];
      const rows = (await tx.query(
        `INSERT INTO webhook_deliveries (webhook_id, event_id)
         SELECT w.id, e.id FROM events e
           JOIN webhooks w ON w.disabled_at IS NULL AND e.created_at >= w.created_at
                          AND (cardinality(w.event_types) = 0 OR e.type = ANY(w.event_types))
          WHERE e.id > $1 AND e.id <= $2
          ORDER BY e.id
         ON CONFLICT (webhook_id, event_id) DO NOTHING
         RETURNING id::text AS id`,
        [cursor.id, upTo.toString()],
      )) as { id: string }[];
      await tx.query(`UPDATE webhook_dispatch_cursor SET last_event_id = $1 WHERE id = 1`, [upTo.toString()]);
      return rows.map((r) => r.id);
    });
  }

  /** Pending deliveries last touched before `olderThanMs` (at most 1000 a sweep). */
  async stalePending(olderThanMs: number): Promise<string[]> {
    const rows = (await this.db.query(
      `SELECT d.id::text AS id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
        WHERE d.state = 'pending' AND w.disabled_at IS NULL AND d.updated_at < now() - make_interval(secs => $1::float8 / 1000)
        ORDER BY d.id LIMIT 1000`,
      [olderThanMs],
    )) as { id: string }[];
    return rows.map((r) => r.id);
  }

  async work(deliveryId: string): Promise<DeliveryWork | null> {
    const delivery = await this.db.getRepository(WebhookDelivery).findOne({ where: { id: deliveryId }, relations: { webhook: true } });
    if (!delivery) return null;
    const [event] = (await this.db.query(
      `SELECT id::text AS id, type, created_at AS "createdAt", rollout_id AS "rolloutId", node_id AS "nodeId", model_version_id AS "modelVersionId", payload
         FROM events WHERE id = $1`,
      [delivery.eventId],
    )) as (Omit<EventView, 'createdAt'> & { createdAt: Date })[];
    if (!event) return null;
    return { delivery, webhook: delivery.webhook, event: { ...event, createdAt: event.createdAt.toISOString() } };
  }

  async succeeded(deliveryId: string, webhookId: string, status: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `UPDATE webhook_deliveries SET state = 'succeeded', attempts = attempts + 1, last_status_code = $2, last_error = NULL, delivered_at = now(), updated_at = now() WHERE id = $1`,
        [deliveryId, status],
      );
      await tx.query(`UPDATE webhooks SET consecutive_failures = 0 WHERE id = $1`, [webhookId]);
    });
  }

  /** One failed attempt; when `final`, the delivery failed and counts towards disabling its webhook. */
  async failed(deliveryId: string, webhookId: string, status: number | null, error: string, final: boolean, disableAfter: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `UPDATE webhook_deliveries SET state = CASE WHEN $4 THEN 'failed' ELSE state END, attempts = attempts + 1,
                last_status_code = $2, last_error = left($3, 300), updated_at = now() WHERE id = $1`,
        [deliveryId, status, error, final],
      );
      if (!final) return;
      await tx.query(
        `UPDATE webhooks SET consecutive_failures = consecutive_failures + 1,
                disabled_at = CASE WHEN disabled_at IS NULL AND consecutive_failures + 1 >= $2 THEN now() ELSE disabled_at END,
                disabled_reason = CASE WHEN disabled_at IS NULL AND consecutive_failures + 1 >= $2
                                       THEN left(format('%s deliveries in a row failed; last: %s', consecutive_failures + 1, $3::text), 300) ELSE disabled_reason END
          WHERE id = $1`,
        [webhookId, disableAfter, error],
      );
    });
  }
}
