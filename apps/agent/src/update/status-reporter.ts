import type { DeploymentState } from '#protocol';
import type { UpdateJournal } from './journal.js';
import type { LogFn, StatusExtra, UpdaterPorts } from './ports.js';
import type { ReportedStatus } from './update-record.js';

/**
 * The status outbox: each status takes the next node-scoped seq and is persisted (as the latest one)
 * before it is sent, then re-sent with heartbeats and after reconnects until the control plane
 * acknowledges its seq. Acknowledgements live in memory: after a restart the latest status goes once more.
 */
export class StatusReporter {
  private ackedUpTo = 0;

  constructor(
    private readonly journal: UpdateJournal,
    private readonly publish: UpdaterPorts['report'],
    private readonly log: LogFn,
  ) {}

  async report(deploymentId: string | undefined, state: DeploymentState, extra: StatusExtra = {}): Promise<void> {
    if (!deploymentId) return;
    const status: ReportedStatus = { deploymentId, seq: this.journal.record.statusSeq + 1, state, ...extra };
    await this.journal.save({ statusSeq: status.seq, lastStatus: status });
    await this.send(status);
  }

  /** The control plane stored every status up to `seq`. */
  acknowledged(seq: number): void {
    this.ackedUpTo = Math.max(this.ackedUpTo, seq);
  }

  /** Sends the latest status again if it is still unacknowledged (on reconnect, and with heartbeats). */
  async resendUnacked(): Promise<void> {
    const last = this.journal.record.lastStatus;
    if (last && last.seq > this.ackedUpTo) await this.send(last);
  }

  private async send({ deploymentId, seq, state, ...extra }: ReportedStatus): Promise<void> {
    await this.publish(deploymentId, seq, state, extra).catch((error: unknown) =>
      this.log('warn', 'could not report status', { deploymentId, seq, state, err: error instanceof Error ? error.message : String(error) }),
    );
  }
}
