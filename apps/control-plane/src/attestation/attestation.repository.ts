import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { NewEvent } from '../events/catalogue.js';
import { EventRecorder } from '../events/event-recorder.js';
import { TERMINAL_DEPLOYMENT_STATES } from '#protocol';
import type { AttestationVerdict } from '../nodes/node.entity.js';

/** What judging a node's report needs: its registered key and the release it was last assigned and committed. */
export interface AttestationSubject {
  readonly nodeId: string;
  readonly publicKey: string | null;
  /** The artifact of the node's latest committed deployment; null when it never committed one. */
  readonly assignedSha256: string | null;
  /**
   * Artifacts of deployments the node is still applying (no outcome yet): between activation and the
   * stored `committed`, the node legitimately serves the new release.
   */
  readonly applyingSha256: readonly string[];
  readonly verdict: AttestationVerdict | null;
}

export interface AttestationRow {
  readonly nodeId: string;
  readonly verdict: AttestationVerdict;
  readonly sha256: string | null;
}

/** The SQL of attestation: epoch nonces shared by replicas, subjects, verdicts. */
@Injectable()
export class AttestationRepository {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly events: EventRecorder,
  ) {}

  /** The nonce of `epoch`: `candidate` if this replica is the first to store one for it, else the stored one. */
  async nonceFor(epoch: number, candidate: string): Promise<string> {
    // Two statements (see installation-settings.ts): the SELECT sees a row another replica committed meanwhile.
    await this.db.query(`INSERT INTO attestation_nonces (epoch, nonce) VALUES ($1, $2) ON CONFLICT (epoch) DO NOTHING`, [epoch, candidate]);
    const rows = (await this.db.query(`SELECT nonce FROM attestation_nonces WHERE epoch = $1`, [epoch])) as { nonce: string }[];
    const nonce = rows[0]?.nonce;
    if (nonce === undefined) throw new Error(`attestation_nonces has no row for epoch ${epoch} after inserting one`);
    return nonce;
  }

  async nonceAt(epoch: number): Promise<string | undefined> {
    const rows = (await this.db.query(`SELECT nonce FROM attestation_nonces WHERE epoch = $1`, [epoch])) as { nonce: string }[];
    return rows[0]?.nonce;
  }

  /** Forgets nonces older than `epoch` (they no longer verify anything). */
  async dropNoncesBefore(epoch: number): Promise<void> {
    await this.db.query(`DELETE FROM attestation_nonces WHERE epoch < $1`, [epoch]);
  }

  /** Marks `stale` every verdict not renewed for `maxAgeMs`; returns how many changed. Rows locked in id order, as in writeVerdicts. */
  async expireVerdicts(maxAgeMs: number): Promise<number> {
    const rows = (await this.db.query(
      `WITH expired AS (
         SELECT id FROM nodes
          WHERE attestation IS NOT NULL AND attestation <> 'stale' AND attested_at < now() - make_interval(secs => $1::double precision / 1000)
          ORDER BY id FOR NO KEY UPDATE)
       UPDATE nodes n SET attestation = 'stale' FROM expired WHERE n.id = expired.id
        RETURNING n.id`,
      [maxAgeMs],
    )) as [unknown[], number];
    return rows[1];
  }

  async subjects(nodeIds: readonly string[]): Promise<AttestationSubject[]> {
    const rows = (await this.db.query(
      `SELECT n.id, n.public_key, n.attestation,
              (SELECT mv.artifact_sha256
                 FROM deployment_targets t
                 JOIN deployments d ON d.id = t.deployment_id
                 JOIN model_versions mv ON mv.id = d.model_version_id
                WHERE t.node_id = n.id AND t.state = 'committed'
                ORDER BY t.updated_at DESC
                LIMIT 1) AS assigned,
              ARRAY(SELECT DISTINCT mv.artifact_sha256
                      FROM deployment_targets t
                      JOIN deployments d ON d.id = t.deployment_id
                      JOIN model_versions mv ON mv.id = d.model_version_id
                     WHERE t.node_id = n.id AND (t.state IS NULL OR t.state <> ALL($2::deployment_state[]))) AS applying
         FROM nodes n
        WHERE n.id = ANY($1::uuid[])`,
      [nodeIds, TERMINAL_DEPLOYMENT_STATES],
    )) as { id: string; public_key: string | null; attestation: AttestationVerdict | null; assigned: string | null; applying: string[] }[];
    return rows.map((r) => ({ nodeId: r.id, publicKey: r.public_key, assignedSha256: r.assigned, applyingSha256: r.applying, verdict: r.attestation }));
  }

  /** Stores the verdicts and, in the same transaction, the events of the transitions they make. */
  async record(rows: readonly AttestationRow[], events: readonly NewEvent[] = []): Promise<void> {
    if (rows.length === 0) return;
    await this.db.transaction(async (tx) => {
      await this.writeVerdicts(tx, rows);
      await this.events.recordMany(tx, events);
    });
  }

  /**
   * The node rows are locked in id order first, as the heartbeat writers' presence updates lock them: two
   * statements locking the same nodes in different orders deadlocked (seen with 400 shared nodes).
   */
  private async writeVerdicts(tx: EntityManager, rows: readonly AttestationRow[]): Promise<void> {
    await tx.query(
      `WITH v AS (SELECT * FROM unnest($1::uuid[], $2::varchar[], $3::char(64)[]) AS v(id, verdict, sha256)),
            locked AS (SELECT id FROM nodes WHERE id IN (SELECT id FROM v) ORDER BY id FOR NO KEY UPDATE)
       UPDATE nodes n SET attestation = v.verdict, attested_sha256 = v.sha256, attested_at = now()
         FROM v JOIN locked ON locked.id = v.id
        WHERE n.id = v.id`,
      [rows.map((r) => r.nodeId), rows.map((r) => r.verdict), rows.map((r) => r.sha256)],
    );
  }
}
