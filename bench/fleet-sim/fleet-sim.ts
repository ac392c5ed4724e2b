import { type ChildProcess, fork } from 'node:child_process';
import { resolve } from 'node:path';
import type { FleetEndpoint, HeartbeatPlan, SimNodeIdentity, WorkerCounts, WorkerReport } from './ipc.js';

/** Built by `npm run build` (tsconfig.build.json includes bench/fleet-sim); tests and benches run from the repo root. */
const WORKER = resolve('dist/bench/fleet-sim/sim-worker.js');

export interface FleetSimOptions {
  readonly endpoint: FleetEndpoint;
  readonly nodes: readonly SimNodeIdentity[];
  readonly workers: number;
  readonly plan: HeartbeatPlan;
  /** Called once a second with the fleet's counts for that second (summed over the workers). */
  readonly onSecond?: (second: FleetSecond) => void;
  /** Node flags for each worker process (none by default: not the parent's, which may be Jest's). */
  readonly execArgv?: readonly string[];
}

export interface FleetSecond extends WorkerCounts {
  readonly at: number;
}

export interface FleetTotals {
  sent: number;
  acked: number;
  failed: number;
  verified: number;
}

/**
 * The fleet simulator: N simulated nodes spread over a few forked worker processes, each node one MQTT
 * client with its own credentials (see NodeGroup). Sums the workers' per-second reports; `totals`
 * counts heartbeats sent, acknowledged by the broker (PUBACK), failed, and downloads verified.
 */
export class FleetSim {
  readonly totals: FleetTotals = { sent: 0, acked: 0, failed: 0, verified: 0 };
  private readonly latest = new Map<ChildProcess, WorkerCounts>();
  private readonly pending = new Map<ChildProcess, WorkerCounts>();
  private secondTimer?: NodeJS.Timeout;
  private stopped?: Promise<void>;

  private constructor(
    private readonly children: readonly ChildProcess[],
    private readonly options: FleetSimOptions,
  ) {}

  /** Forks the workers and resolves once every node is connected (the heartbeats have begun). */
  static async start(options: FleetSimOptions): Promise<FleetSim> {
    const count = Math.max(1, Math.min(options.workers, options.nodes.length));
    const children = Array.from({ length: count }, () => fork(WORKER, [], { execArgv: [...(options.execArgv ?? [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const sim = new FleetSim(children, options);
    // One seq base per run, in deciseconds: above every seq an earlier run of the same nodes sent.
    const firstSeq = Math.floor(Date.now() / 100);
    const connected = children.map((child, i) => {
      child.on('message', (report: WorkerReport) => sim.onReport(child, report));
      const nodes = options.nodes.filter((_, n) => n % count === i);
      child.send({ type: 'start', endpoint: options.endpoint, plan: options.plan, nodes, firstSeq });
      return sim.until(child, 'connected');
    });
    sim.secondTimer = setInterval(() => sim.emitSecond(), 1000);
    try {
      await Promise.all(connected);
    } catch (error) {
      await sim.stop();
      throw error;
    }
    return sim;
  }

  /** Latest gauges summed: nodes connected, simulator RSS (bytes). */
  gauges(): { connected: number; rssBytes: number } {
    let connected = 0;
    let rssBytes = 0;
    for (const c of this.latest.values()) {
      connected += c.connected;
      rssBytes += c.rssBytes;
    }
    return { connected, rssBytes };
  }

  /** Stops every worker (heartbeats stop, nodes disconnect) and waits for their final counts. */
  stop(): Promise<void> {
    this.stopped ??= this.stopWorkers();
    return this.stopped;
  }

  private async stopWorkers(): Promise<void> {
    const stopped = this.children.map((child) => (child.connected ? this.until(child, 'stopped').catch(() => undefined) : Promise.resolve()));
    for (const child of this.children) if (child.connected) child.send({ type: 'stop' });
    await Promise.all(stopped);
    clearInterval(this.secondTimer);
    this.emitSecond();
  }

  private onReport(child: ChildProcess, report: WorkerReport): void {
    if (report.type !== 'tick') return;
    const counts: WorkerCounts = { sent: report.sent, acked: report.acked, failed: report.failed, verified: report.verified, connected: report.connected, rssBytes: report.rssBytes };
    this.latest.set(child, counts);
    const before = this.pending.get(child);
    this.pending.set(child, before ? { ...counts, sent: before.sent + counts.sent, acked: before.acked + counts.acked, failed: before.failed + counts.failed, verified: before.verified + counts.verified } : counts);
    this.totals.sent += counts.sent;
    this.totals.acked += counts.acked;
    this.totals.failed += counts.failed;
    this.totals.verified += counts.verified;
  }

  private emitSecond(): void {
    const sum = { sent: 0, acked: 0, failed: 0, verified: 0 };
    for (const c of this.pending.values()) {
      sum.sent += c.sent;
      sum.acked += c.acked;
      sum.failed += c.failed;
      sum.verified += c.verified;
    }
    this.pending.clear();
    this.options.onSecond?.({ at: Date.now(), ...sum, ...this.gauges() });
  }

  /** Resolves on the worker's report of `type`; rejects if it fails or exits first. */
  private until(child: ChildProcess, type: 'connected' | 'stopped'): Promise<void> {
    return new Promise((resolveReport, reject) => {
      const onMessage = (report: WorkerReport) => {
        if (report.type === type) finish(resolveReport);
        else if (report.type === 'failed') finish(() => reject(new FleetSimError(`a simulator worker failed: ${report.message}`)));
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => finish(() => reject(new FleetSimError(`a simulator worker exited (${code ?? signal}) before '${type}'`)));
      const finish = (settle: () => void) => {
        child.off('message', onMessage);
        child.off('exit', onExit);
        settle();
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }
}

export class FleetSimError extends Error {
  override readonly name = 'FleetSimError';
}
