import { Inject, Injectable } from '@nestjs/common';
import { generateSecret, NotFoundError, ValidationError } from '#common';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { Transactions } from '../database/transactions.js';
import type { EventType } from '../events/catalogue.js';
import { webhookUrlProblem } from './address-guard.js';
import type { WebhookDelivery } from './webhook-delivery.entity.js';
import type { Webhook } from './webhook.entity.js';
import { WebhooksRepository } from './webhooks.repository.js';

/** Webhook management (admin): the secret is generated here and returned only by `create`. */
@Injectable()
export class WebhooksService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly transactions: Transactions,
    private readonly repository: WebhooksRepository,
    private readonly audit: AuditService,
  ) {}

  async create(by: Principal, url: string, eventTypes: readonly EventType[]): Promise<Webhook> {
    const problem = webhookUrlProblem(url, this.config.webhooks.allowPrivate);
    if (problem) throw new ValidationError(`webhook url ${problem}`, [{ field: 'url', message: problem }]);
    return this.transactions.run(async (tx) => {
      const webhook = await this.repository.insert(tx, { url, eventTypes: [...new Set(eventTypes)], secret: generateSecret('whsec'), createdBy: by.actor });
      // The URL is audited, never the secret.
      await this.audit.record(tx, by, 'webhook.create', { type: 'webhook', id: webhook.id }, { url, eventTypes });
      return webhook;
    });
  }

  list(): Promise<Webhook[]> {
    return this.repository.list();
  }

  async remove(by: Principal, id: string): Promise<void> {
    await this.transactions.run(async (tx) => {
      if (!(await this.repository.remove(tx, id))) throw new NotFoundError('webhook', id);
      await this.audit.record(tx, by, 'webhook.delete', { type: 'webhook', id });
    });
  }

  /** Re-enables (failure count reset) or disables a webhook, audited when its state changes. */
  async setEnabled(by: Principal, id: string, enabled: boolean): Promise<Webhook> {
    return this.transactions.run(async (tx) => {
      const current = await this.repository.lock(tx, id);
      if (!current) throw new NotFoundError('webhook', id);
      if ((current.disabledAt === null) === enabled) return current;
      const updated = await this.repository.setEnabled(tx, id, enabled, `disabled by ${by.actor}`);
      const details = enabled ? { previousReason: current.disabledReason, consecutiveFailures: current.consecutiveFailures } : {};
      await this.audit.record(tx, by, enabled ? 'webhook.enable' : 'webhook.disable', { type: 'webhook', id }, details);
      return updated;
    });
  }

  async deliveries(id: string, before: string | undefined, limit: number): Promise<WebhookDelivery[]> {
    if (!(await this.repository.find(id))) throw new NotFoundError('webhook', id);
    return this.repository.deliveries(id, before, limit);
  }
}
