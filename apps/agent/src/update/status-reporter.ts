import type { DeploymentState } from '#protocol';
import type { UpdateJournal } from './journal.js';
import type { LogFn, StatusExtra, UpdaterPorts } from './ports.js';
import type { ReportedStatus } from './update-record.js';

/**
 * The most unacknowledged statuses kept: an update sends a handful (received … committed), so this
 * covers several updates without an ack; beyond it the oldest intermediate ones go first.
 */
export const MAX_PENDING_STATUSES = 32;

/** What the control plane says it stored: exact seqs (current control planes) or, from older ones, a high-water mark. */
export interface StatusAck {
  readonly statusSeq?: number;
  readonly statusSeqs?: readonly number[];
}

/**
 * The status outbox: each status takes the next node-scoped seq and is persisted, with every status not
 * yet acknowledged, before it is sent; all of them are re-sent with heartbeats and after reconnects
 * until the control plane acknowledges their seqs. Acknowledgements live in memory (a restart sends the
 * pending ones once more, stored once); they are dropped from the journal with the next status.
 */
export class StatusReporter {
  /** Seqs acknowledged exactly, and the high-water mark an older control plane acknowledges instead. */
  private readonly acked = new Set<number>();
  private ackedUpTo = 0;

  constructor(
    private readonly journal: UpdateJournal,
    private readonly publish: UpdaterPorts['report'],
    private readonly log: LogFn,
  ) {}

  async report(deploymentId: string | undefined, state: DeploymentState, extra: StatusExtra = {}): Promise<void> {
    if (!deploymentId) return;
    const status: ReportedStatus = { deploymentId, seq: this.journal.record.statusSeq + 1, state, ...extra };
    const pendingStatuses = [...this.unacked(), status].slice(-MAX_PENDING_STATUSES);
    this.acked.clear();
    await this.journal.save({ statusSeq: status.seq, pendingStatuses, lastStatus: undefined });
    await this.send(status);
  }

  acknowledged(ack: StatusAck): void {
    if (ack.statusSeqs) for (const seq of ack.statusSeqs) this.acked.add(seq);
    // Exact seqs are authoritative: the high-water mark alone would also cover an earlier status a
    // crashed replica acknowledged to the broker but never stored.
    else if (ack.statusSeq !== undefined) this.ackedUpTo = Math.max(this.ackedUpTo, ack.statusSeq);
  }

  /** Sends every unacknowledged status again, oldest first (on reconnect, and with heartbeats). */
  async resendUnacked(): Promise<void> {
    for (const status of this.unacked()) await this.send(status);
  }

  /** The journal's pending statuses the control plane has not acknowledged yet (an older journal's last one too). */
  private unacked(): ReportedStatus[] {
    const { pendingStatuses, lastStatus } = this.journal.record;
    const pending = pendingStatuses ?? (lastStatus ? [lastStatus] : []);
    return pending.filter((s) => s.seq > this.ackedUpTo && !this.acked.has(s.seq));
  }

  private async send({ deploymentId, seq, state, ...extra }: ReportedStatus): Promise<void> {
    await this.publish(deploymentId, seq, state, extra).catch((error: unknown) =>
      this.log('warn', 'could not report status', { deploymentId, seq, state, err: error instanceof Error ? error.message : String(error) }),
    );
  }
}
