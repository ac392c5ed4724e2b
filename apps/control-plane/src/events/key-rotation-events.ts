import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { type RootChangeListener, SigningService } from '../keys/signing.service.js';
import type { EventType } from './catalogue.js';

const TYPE = 'key.rotated' satisfies EventType;

/**
 * `key.rotated` when this installation moves to a newer root (a rotation or a revocation). Every replica
 * reloads the shared key directory on its own, so the event is written once per root version: under a
 * transaction-scoped advisory lock, only if no replica wrote it yet.
 */
@Injectable()
export class KeyRotationEvents implements OnModuleInit {
  constructor(
    private readonly signing: SigningService,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  onModuleInit(): void {
    this.signing.onRootChanged((root) => this.recordOnce(root));
  }

  private readonly recordOnce: RootChangeListener = (root) => {
    const { version, revokedKeyIds } = root.signed;
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1::text))`, [TYPE]);
      await tx.query(
        `INSERT INTO events (type, payload)
         SELECT $1::varchar, jsonb_build_object('rootVersion', $2::int, 'revokedKeyIds', $3::jsonb)
          WHERE NOT EXISTS (SELECT 1 FROM events WHERE type = $1::varchar AND (payload->>'rootVersion')::int = $2::int)`,
        [TYPE, version, JSON.stringify(revokedKeyIds ?? [])],
      );
    });
  };
}
