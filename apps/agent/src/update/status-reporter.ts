import type { DeploymentState } from '#protocol';
import type { UpdateJournal } from './journal.js';
import type { LogFn, StatusExtra, UpdaterPorts } from './ports.js';
import type { ReportedStatus } from './update-record.js';

/**
 * The most unacknowledged statuses kept: an update sends a handful (received … committed), so this
 * covers several updates without an ack; beyond it the oldest intermediate ones go first.
 */
export const MAX_PENDING_STATUSES = 32;

/**
 * The status outbox: each status takes the next node-scoped seq and is persisted, with every status not
 * yet acknowledged, before it is sent; all of them are re-sent with heartbeats and after reconnects
 * until the control plane acknowledges each seq. An ack names one seq and covers that status only: a
 * replica that crashed after the broker's PUBACK may have lost an earlier one, which a "everything up
 * to here" reading would wrongly drop. (An older control plane acks only a batch's highest seq: the
 * others are re-sent and acknowledged on their own.) Acknowledgements live in memory (a restart sends
 * the pending ones once more, stored once); they leave the journal with the next status.
 */
export class StatusReporter {
  private readonly acked = new Set<number>();

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
    // Not awaited: the broker's PUBACK can take as long as the network is partitioned (the connection
    // looks alive until the keepalive gives up), and the update must not wait on it — the soak stalled
    // there. The status is journaled and re-sent until acknowledged.
    void this.send(status);
  }

  acknowledged(seq: number): void {
    this.acked.add(seq);
  }

  /** Sends every unacknowledged status again, oldest first (on reconnect, and with heartbeats). */
  async resendUnacked(): Promise<void> {
    // Published in order (one connection); each waits for its own PUBACK.
    await Promise.all(this.unacked().map((status) => this.send(status)));
  }

  /** The journal's pending statuses the control plane has not acknowledged yet (an older journal's last one too). */
  private unacked(): ReportedStatus[] {
    const { pendingStatuses, lastStatus } = this.journal.record;
    const pending = pendingStatuses ?? (lastStatus ? [lastStatus] : []);
    return pending.filter((s) => !this.acked.has(s.seq));
  }

  private async send({ deploymentId, seq, state, ...extra }: ReportedStatus): Promise<void> {
    await this.publish(deploymentId, seq, state, extra).catch((error: unknown) =>
      this.log('warn', 'could not report status', { deploymentId, seq, state, err: error instanceof Error ? error.message : String(error) }),
    );
  }
}
