import { verifyInitialRoot } from '#trust';
import { plainHeartbeat, SimulatedNode } from '../../test/helpers/simulated-node.js';
import type { FleetEndpoint, HeartbeatPlan, SimNodeIdentity, WorkerCounts } from './ipc.js';

/** Connections opened at once: Mosquitto and dynsec answer a burst of CONNECTs one by one anyway. */
const CONNECT_CONCURRENCY = 50;

/**
 * The nodes one worker process runs: each a SimulatedNode (one mqtt.js client with the node's own broker
 * credentials, desired states verified against the pinned root, chunks reassembled and digest-checked,
 * statuses sent), plus a jittered heartbeat timer. Counts are deltas since the last `takeCounts()`.
 */
export class NodeGroup {
  private readonly nodes: SimulatedNode[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private sent = 0;
  private acked = 0;
  private failed = 0;
  private verified = 0;
  private stopping = false;
  private readonly startedAt = Date.now();

  constructor(
    private readonly endpoint: FleetEndpoint,
    private readonly plan: HeartbeatPlan,
    private readonly identities: readonly SimNodeIdentity[],
    /** The first heartbeat seq of every node: above any seq an earlier run of the same nodes used. */
    private readonly firstSeq: number,
  ) {}

  /** Connects every node, CONNECT_CONCURRENCY at a time; each starts heartbeating once connected. */
  async connect(onProgress: (connected: number) => void = () => undefined): Promise<void> {
    const root = verifyInitialRoot(this.endpoint.root, new Date());
    for (let i = 0; i < this.identities.length && !this.stopping; i += CONNECT_CONCURRENCY) {
      const slice = this.identities.slice(i, i + CONNECT_CONCURRENCY);
      await Promise.all(slice.map((id) => this.connectOne(id, root)));
      onProgress(this.nodes.length);
    }
  }

  takeCounts(): WorkerCounts {
    const counts = { sent: this.sent, acked: this.acked, failed: this.failed, verified: this.verified, connected: this.nodes.length, rssBytes: process.memoryUsage().rss };
    this.sent = this.acked = this.failed = this.verified = 0;
    return counts;
  }

  /** Stops the heartbeats, then disconnects every node (clearing its retained presence). */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.nodes.map((n) => n.disconnect().catch(() => undefined)));
  }

  private async connectOne(identity: SimNodeIdentity, root: ReturnType<typeof verifyInitialRoot>): Promise<void> {
    const { brokerUrl, namespace } = this.endpoint;
    const node = new SimulatedNode({ brokerUrl, namespace, root, nodeId: identity.nodeId, username: identity.username, password: identity.password });
    await node.connect();
    this.nodes.push(node);
    this.watchDownloads(node);
    // The first beat lands anywhere in one period, so a fleet that connects at once does not beat at once.
    this.schedule(node, Math.random() * this.plan.periodMs, this.firstSeq);
  }

  private schedule(node: SimulatedNode, delayMs: number, seq: number): void {
    if (this.stopping) return;
    const timer = setTimeout(() => {
      this.beat(node, seq);
      const { periodMs, jitter } = this.plan;
      this.schedule(node, periodMs * (1 + jitter * (2 * Math.random() - 1)), seq + 1);
    }, delayMs);
    this.timers.set(node.nodeId, timer);
  }

  /** The message's `ts` is stamped here, at send time: P6 compares it with the row's insert time. */
  private beat(node: SimulatedNode, seq: number): void {
    this.sent++;
    const uptimeS = Math.round((Date.now() - this.startedAt) / 1000);
    node.publish('heartbeat', plainHeartbeat(seq, { uptimeS })).then(
      () => this.acked++,
      () => this.failed++,
    );
  }

  /** A desired state opens a download; count the nodes whose reassembled artifact matched its digest. */
  private watchDownloads(node: SimulatedNode): void {
    let watched: Promise<Buffer> | undefined;
    node.client.on('message', () => {
      if (!node.verified || node.verified === watched) return;
      watched = node.verified;
      watched.then(
        () => this.verified++,
        () => this.failed++,
      );
    });
  }
}
