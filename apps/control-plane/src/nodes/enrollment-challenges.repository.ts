import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { type DataSource, LessThanOrEqual } from 'typeorm';
import { hashSecret } from '#common';
import { EnrollmentChallenge } from './enrollment-challenge.entity.js';

export interface IssuedChallenge {
  readonly nonce: string;
  readonly expiresAt: Date;
}

/** Where challenge nonces live: hashed, per node, deleted on use. */
@Injectable()
export class EnrollmentChallengeRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Outstanding (unexpired) challenges of a node, after dropping its expired ones. */
  async countOutstanding(nodeId: string): Promise<number> {
    const repo = this.db.getRepository(EnrollmentChallenge);
    await repo.delete({ nodeId, expiresAt: LessThanOrEqual(new Date()) });
    return repo.countBy({ nodeId });
  }

  async issue(nodeId: string, ttlMs: number): Promise<IssuedChallenge> {
    const nonce = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + ttlMs);
    await this.db.getRepository(EnrollmentChallenge).insert({ nonceHash: hashSecret(nonce), nodeId, expiresAt });
    return { nonce, expiresAt };
  }

  /**
   * Deletes the challenge in its own statement, before anything is checked against it: it is spent even
   * when the enrolment that presents it fails, so one nonce never gets a second signature tried.
   * Returns the node it was issued for, or undefined for an unknown, used or expired nonce.
   */
  async consume(nonce: string): Promise<string | undefined> {
    // For DELETE, TypeORM's PostgreSQL driver answers [rows, rowCount].
    const [rows] = (await this.db.query(`DELETE FROM "enrollment_challenges" WHERE "nonce_hash" = $1 RETURNING "node_id", "expires_at"`, [
      hashSecret(nonce),
    ])) as [{ node_id: string; expires_at: Date }[], number];
    const row = rows[0];
    return row && row.expires_at.getTime() > Date.now() ? row.node_id : undefined;
  }

  async forgetNode(nodeId: string): Promise<void> {
    await this.db.getRepository(EnrollmentChallenge).delete({ nodeId });
  }
}
