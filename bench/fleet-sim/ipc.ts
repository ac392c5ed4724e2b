import type { Envelope, RootDocument } from '#trust';

/** One enrolled node as a worker needs it: its id and the broker credentials enrolment gave it. */
export interface SimNodeIdentity {
  readonly nodeId: string;
  readonly username: string;
  readonly password: string;
}

/** What every node of a fleet shares: where the broker is, the topic namespace and the pinned root. */
export interface FleetEndpoint {
  readonly brokerUrl: string;
  readonly namespace: string;
  readonly root: Envelope<RootDocument>;
}

export interface HeartbeatPlan {
  /** Mean interval between two heartbeats of one node. */
  readonly periodMs: number;
  /** Each interval is drawn uniformly from periodMs × (1 ± jitter): nodes never fall into step. */
  readonly jitter: number;
}

/** Parent → worker. */
export type WorkerCommand =
  | { readonly type: 'start'; readonly endpoint: FleetEndpoint; readonly plan: HeartbeatPlan; readonly nodes: readonly SimNodeIdentity[]; readonly firstSeq: number }
  | { readonly type: 'stop' };

/** Counts since the previous report (deltas), and gauges (connected, rssBytes). */
export interface WorkerCounts {
  readonly sent: number;
  readonly acked: number;
  readonly failed: number;
  readonly verified: number;
  readonly connected: number;
  readonly rssBytes: number;
}

/** Worker → parent. */
export type WorkerReport =
  | ({ readonly type: 'tick' } & WorkerCounts)
  | { readonly type: 'connected'; readonly count: number }
  | { readonly type: 'stopped' }
  | { readonly type: 'failed'; readonly message: string };
