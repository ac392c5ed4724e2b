import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { type RecurringWindow, windowOpen } from '#common';
import { CONFIDENCE_BUCKET_COUNT, CONFIDENCE_HISTOGRAM_LAYOUT, clampConfidence, confidenceBucket, encodeMessage, envelopeFields, type FleetTopics, fleetTopics, LATENCY_BUCKET_COUNT, LATENCY_HISTOGRAM_LAYOUT, latencyBucket, latencyPercentiles, type MessageKind, type MessageOf, parseMessage, sparseHistogram } from '#protocol';

/** What a simulated node does with a desired state: apply it, fail it (rolled back), or never answer. */
export type Behaviour = 'commit' | 'fail' | 'silent';

export interface FleetOptions {
  /**
   * Refuse, as the agent does, a manifest whose sequence is not above the highest one each node committed
   * for the model (`rejected:rollback`), unless it names the artifact of the node's latest desired state.
   */
  readonly antiRollback?: boolean;
  /**
   * Survive broker restarts: a persistent session under a stable client id that reconnects every
   * 500 ms (queued acks and desired states arrive after the restart). Off: one clean connection, no reconnect.
   */
  readonly reconnect?: boolean;
}

export interface ReceivedDesired {
  readonly deploymentId: string;
  readonly sha256: string;
  readonly sequence: number;
  readonly at: number;
  readonly activationWindow?: RecurringWindow;
}

export interface ModelRef {
  readonly name: string;
  readonly version: string;
  readonly variant: string;
  readonly sha256: string;
}

/**
 * Many nodes behind one MQTT connection, for rollout tests and benches on the test broker (anonymous,
 * so one client may speak for every node). Each node answers its desired states the way `behaviour`
 * says, with the status messages a real agent sends, and `heartbeat()` reports each node's model with a
 * latency chosen per model. Desired states are not verified here (the agent tests do that).
 */
export class SimulatedFleet {
  readonly received = new Map<string, ReceivedDesired[]>();
  /** Results messages sent (id → node and record seqs), and the ids the control plane acknowledged as stored. */
  readonly resultsSent = new Map<string, { nodeId: string; seqs: number[] }>();
  readonly resultsAcked = new Set<string>();
  readonly running = new Map<string, ModelRef>();
  private readonly seq = new Map<string, number>();
  /** Per node: the highest committed sequence per model, and the artifact of its latest desired state. */
  private readonly installed = new Map<string, Map<string, number>>();
  private readonly lastDesiredSha = new Map<string, string>();
  /** Each node's statuses until the control plane acknowledges them by seq (re-sent every second, like the agent). */
  private readonly unacked = new Map<string, MessageOf<'status'>[]>();
  /** Per node, the seq of every heartbeat the broker accepted (fault tests compare them with the stored rows). */
  readonly heartbeatsSent = new Map<string, number[]>();
  private resendTimer?: NodeJS.Timeout;
  private client!: MqttClient;

  private constructor(
    private readonly topics: FleetTopics,
    private readonly nodeIds: ReadonlySet<string>,
    private readonly behaviour: (nodeId: string, sha256: string) => Behaviour,
    private readonly options: FleetOptions,
  ) {}

  /** `broker.namespace` is the control plane's fleet namespace (`config.mqtt.fleetNamespace`). */
  static async start(
    broker: { readonly url: string; readonly namespace: string },
    nodeIds: readonly string[],
    behaviour: (nodeId: string, sha256: string) => Behaviour = () => 'commit',
    options: FleetOptions = {},
  ): Promise<SimulatedFleet> {
    const fleet = new SimulatedFleet(fleetTopics(broker.namespace), new Set(nodeIds), behaviour, options);
    fleet.client = await mqtt.connectAsync(
      broker.url,
      options.reconnect
        ? { protocolVersion: 5, clean: false, clientId: `sim-fleet-${randomUUID()}`, properties: { sessionExpiryInterval: 600 }, reconnectPeriod: 500 }
        : { protocolVersion: 5, clean: true, reconnectPeriod: 0 },
    );
    // A status publish cut by a broker restart is re-sent by the timer below (it stays unacknowledged).
    fleet.client.on('message', (topic, payload) => (topic.endsWith('/acks') ? fleet.onAck(topic, payload) : void fleet.onDesired(topic, payload).catch(() => undefined)));
    await fleet.client.subscribeAsync([fleet.topics.desired('+'), fleet.topics.acks('+')], { qos: 1 });
    fleet.resendTimer = setInterval(() => {
      for (const [nodeId, statuses] of fleet.unacked) for (const status of statuses) void fleet.publish(nodeId, 'status', status).catch(() => undefined);
    }, 1000);
    return fleet;
  }

  /** Adds a node (e.g. enrolled after the start). */
  add(nodeId: string): void {
    (this.nodeIds as Set<string>).add(nodeId);
  }

  /** Nodes that were sent a desired state for this artifact. */
  receivers(sha256: string): string[] {
    return [...this.received].filter(([, list]) => list.some((d) => d.sha256 === sha256)).map(([id]) => id);
  }

  /**
   * One heartbeat per node naming its running model, with `inferences` inferences at `latencyMs(sha256, model)`
   * p99 and `errors(model)` errors. Identical bytes can be several versions: pick by `model.version` to tell them apart.
   */
  async heartbeat(
    latencyMs: (sha256: string | null, model: ModelRef | null) => number,
    inferences = 50,
    errors: (model: ModelRef | null) => number = () => 0,
  ): Promise<void> {
    await Promise.all(
      [...this.nodeIds].map((nodeId) => {
        const model = this.running.get(nodeId) ?? null;
        const latency = latencyMs(model?.sha256 ?? null, model);
        const seq = this.next(nodeId);
        return this.publish(nodeId, 'heartbeat', {
          ...envelopeFields(),
          seq,
          model,
          uptimeS: 60,
          cpu: 0.1,
          memMb: 100,
          freeDiskMb: 10_000,
          inferences,
          errors: errors(model),
          latencyMs: { p50: latency / 2, p99: latency },
        }).then(() => this.heartbeatsSent.set(nodeId, [...(this.heartbeatsSent.get(nodeId) ?? []), seq]));
      }),
    );
  }

  /**
   * One heartbeat per node as a current agent sends it: the latencies `window` returns for the node's
   * model in the shared histogram (p50/p99 read from it), plus `errors` failed inferences. Returns what
   * each node reported, so a test can compute its reference from the same samples.
   */
  /**
   * One heartbeat per node with the latencies (and, if given, the top-class confidences, at most one per
   * latency) `window` returns for it, as current agents send them.
   */
  async heartbeatWithHistogram(
    window: (nodeId: string, model: ModelRef | null) => { latenciesMs: readonly number[]; errors?: number; confidences?: readonly number[] },
  ): Promise<Map<string, { model: ModelRef | null; latenciesMs: readonly number[]; errors: number; confidences?: readonly number[] }>> {
    const sent = new Map<string, { model: ModelRef | null; latenciesMs: readonly number[]; errors: number; confidences?: readonly number[] }>();
    await Promise.all(
      [...this.nodeIds].map((nodeId) => {
        const model = this.running.get(nodeId) ?? null;
        const { latenciesMs, errors = 0, confidences } = window(nodeId, model);
        const counts = new Array<number>(LATENCY_BUCKET_COUNT).fill(0);
        for (const ms of latenciesMs) counts[latencyBucket(ms)]++;
        const percentiles = latencyPercentiles(counts);
        sent.set(nodeId, { model, latenciesMs, errors, ...(confidences ? { confidences } : {}) });
        const confidenceCounts = new Array<number>(CONFIDENCE_BUCKET_COUNT).fill(0);
        for (const c of confidences ?? []) confidenceCounts[confidenceBucket(c)]++;
        const confidenceHistogram =
          confidences && confidences.length > 0
            ? { layout: CONFIDENCE_HISTOGRAM_LAYOUT, counts: sparseHistogram(confidenceCounts), sum: confidences.reduce((a, c) => a + clampConfidence(c), 0) }
            : undefined;
        return this.publish(nodeId, 'heartbeat', {
          ...envelopeFields(),
          seq: this.next(nodeId),
          model,
          uptimeS: 60,
          cpu: 0.1,
          memMb: 100,
          freeDiskMb: 10_000,
          inferences: latenciesMs.length + errors,
          errors,
          latencyMs: percentiles ? { p50: percentiles.p50, p99: percentiles.p99 } : null,
          ...(percentiles ? { latencyHistogram: { layout: LATENCY_HISTOGRAM_LAYOUT, counts: sparseHistogram(counts) } } : {}),
          ...(confidenceHistogram ? { confidenceHistogram } : {}),
        });
      }),
    );
    return sent;
  }

  /**
   * One results batch per node: the records `records` returns for the node's model (none without a
   * model), with input references and top classes as given. Returns the records sent per node.
   */
  async resultsOf(
    records: (nodeId: string, model: ModelRef) => readonly { topClass: number; confidence: number; inputRef?: string; latencyMs?: number }[],
  ): Promise<void> {
    await Promise.all(
      [...this.nodeIds].map((nodeId) => {
        const model = this.running.get(nodeId);
        if (!model) return undefined;
        const list = records(nodeId, model);
        if (list.length === 0) return undefined;
        const { sha256, ...served } = model;
        return this.publishResults(nodeId, {
          ...envelopeFields(),
          records: list.map((r) => ({
            seq: this.next(nodeId),
            ts: new Date().toISOString(),
            modelSha256: sha256,
            model: served,
            topClass: r.topClass,
            confidence: r.confidence,
            latencyMs: r.latencyMs ?? 1,
            ...(r.inputRef !== undefined ? { inputRef: r.inputRef } : {}),
          })),
        });
      }),
    );
  }

  /** One results batch per node running a model: `count` records served with it, each of confidence `confidence(model)`. */
  async results(confidence: (model: ModelRef) => number, count = 30): Promise<void> {
    await Promise.all(
      [...this.nodeIds].map((nodeId) => {
        const model = this.running.get(nodeId);
        if (!model) return undefined;
        const { sha256, ...served } = model;
        const records = Array.from({ length: count }, () => ({
          seq: this.next(nodeId),
          ts: new Date().toISOString(),
          modelSha256: sha256,
          model: served,
          topClass: 0,
          confidence: confidence(model),
          latencyMs: 1,
        }));
        return this.publishResults(nodeId, { ...envelopeFields(), records });
      }),
    );
  }

  /** A node's presence (as an agent's birth message or will): any enrolled node, in this fleet or not. */
  async presence(nodeId: string, online: boolean): Promise<void> {
    await this.client.publishAsync(this.topics.uplink(nodeId, 'presence'), encodeMessage('presence', { ...envelopeFields(), online }), { qos: 1 });
  }

  /** Statuses sent and not yet acknowledged as stored, over all nodes. */
  get unackedStatuses(): number {
    return [...this.unacked.values()].reduce((n, list) => n + list.length, 0);
  }

  async stop(): Promise<void> {
    clearInterval(this.resendTimer);
    await this.client.endAsync();
  }

  private nodeIdOf(topic: string): string {
    return topic.slice(this.topics.nodesPrefix.length).split('/')[0] ?? '';
  }

  private onAck(topic: string, payload: Buffer): void {
    const nodeId = this.nodeIdOf(topic);
    const parsed = parseMessage('acks', payload);
    if (parsed.ok) for (const id of parsed.value.results ?? []) this.resultsAcked.add(id);
    const pending = this.unacked.get(nodeId);
    if (!parsed.ok || !pending) return;
    // Like the agent: an ack covers its own seq only.
    const { statusSeq } = parsed.value;
    this.unacked.set(nodeId, pending.filter((s) => s.seq !== statusSeq));
  }

  private async onDesired(topic: string, payload: Buffer): Promise<void> {
    const nodeId = this.nodeIdOf(topic);
    if (!this.nodeIds.has(nodeId) || payload.length === 0) return;
    const parsed = parseMessage('desired', payload);
    if (!parsed.ok) return;
    const signed = parsed.value.desired.signed as {
      deploymentId: string;
      activationWindow?: RecurringWindow;
      manifest: { signed: { name: string; version: string; variant: string; sha256: string; sequence: number } };
    };
    const manifest = signed.manifest.signed;
    const list = this.received.get(nodeId) ?? [];
    // A retained desired state comes again on every subscription: count each deployment once.
    if (list.some((d) => d.deploymentId === signed.deploymentId)) return;
    list.push({ deploymentId: signed.deploymentId, sha256: manifest.sha256, sequence: manifest.sequence, at: Date.now(), activationWindow: signed.activationWindow });
    this.received.set(nodeId, list);

    const behaviour = this.behaviour(nodeId, manifest.sha256);
    if (behaviour === 'silent') return;
    const status = (state: MessageOf<'status'>['state'], extra: Partial<MessageOf<'status'>> = {}) => {
      const message = { ...envelopeFields(), seq: this.next(nodeId), deploymentId: signed.deploymentId, state, ...extra };
      this.unacked.set(nodeId, [...(this.unacked.get(nodeId) ?? []), message]);
      // Like the agent: a publish the broker's restart cut off is not the update's failure; the timer re-sends it.
      return this.publish(nodeId, 'status', message).catch(() => undefined);
    };
    const floor = this.installed.get(nodeId)?.get(manifest.name);
    const sameArtifact = this.lastDesiredSha.get(nodeId) === manifest.sha256;
    if (this.options.antiRollback && floor !== undefined && !sameArtifact && manifest.sequence <= floor) {
      return void (await status('rejected', { reason: 'rollback', detail: `sequence ${manifest.sequence} is not above the installed ${floor}` }));
    }
    this.lastDesiredSha.set(nodeId, manifest.sha256);
    await status('received');
    if (behaviour === 'fail') {
      await status('rolled-back', { reason: 'self-test-failed', detail: 'simulated failure' });
      return;
    }
    // Like the agent: everything up to the self-test at once, activation only inside the window.
    if (!windowOpen(signed.activationWindow, new Date())) return void (await status('self-tested', { detail: 'waiting for the activation window' }));
    this.running.set(nodeId, { name: manifest.name, version: manifest.version, variant: manifest.variant, sha256: manifest.sha256 });
    const installed = this.installed.get(nodeId) ?? new Map<string, number>();
    installed.set(manifest.name, Math.max(installed.get(manifest.name) ?? 0, manifest.sequence));
    this.installed.set(nodeId, installed);
    await status('committed');
  }

  /** Publishes a results message and remembers its records, so a test can check every acknowledged one is stored. */
  private publishResults(nodeId: string, message: MessageOf<'results'>): Promise<unknown> {
    this.resultsSent.set(message.id, { nodeId, seqs: message.records.map((r) => r.seq) });
    return this.publish(nodeId, 'results', message);
  }

  private next(nodeId: string): number {
    const n = (this.seq.get(nodeId) ?? 0) + 1;
    this.seq.set(nodeId, n);
    return n;
  }

  private publish<K extends MessageKind>(nodeId: string, kind: K & ('status' | 'heartbeat' | 'results'), message: MessageOf<K>): Promise<unknown> {
    return this.client.publishAsync(this.topics.uplink(nodeId, kind), encodeMessage(kind, message), { qos: 1 });
  }
}
