import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Transactions } from '../database/transactions.js';
import { type RootChangeListener, SigningService } from '../keys/signing.service.js';
import { EventsRepository } from './events.repository.js';

/**
 * `key.rotated` when this installation moves to a newer root (a rotation or a revocation). Every replica
 * reloads the shared key directory on its own, so the event is written once per root version: under a
 * transaction-scoped advisory lock, only if no replica wrote it yet.
 */
@Injectable()
export class KeyRotationEvents implements OnModuleInit {
  constructor(
    private readonly signing: SigningService,
    private readonly transactions: Transactions,
    private readonly repository: EventsRepository,
  ) {}

  onModuleInit(): void {
    this.signing.onRootChanged((root) => this.recordOnce(root));
  }

  private readonly recordOnce: RootChangeListener = (root) => {
    const { version, revokedKeyIds } = root.signed;
    return this.transactions.run(async (tx) => {
      await this.repository.lockType(tx, 'key.rotated');
      await this.repository.insertKeyRotatedOnce(tx, version, revokedKeyIds ?? []);
    });
  };
}
