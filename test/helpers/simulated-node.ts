import mqtt, { type MqttClient } from 'mqtt';
import { Readable } from 'node:stream';
import {
  decodeChunk,
  encodeMessage,
  envelopeFields,
  type HeartbeatMessage,
  type MessageKind,
  type FleetTopics,
  fleetTopics,
  type MessageOf,
  parseMessage,
  toRanges,
} from '#protocol';
import { type DesiredState, type Envelope, type RootDocument, verifyArtifactStream, verifyDesiredState, verifyManifest } from '#trust';

export interface SimulatedNodeOptions {
  readonly brokerUrl: string;
  readonly nodeId: string;
  /** The control plane's fleet namespace (`config.mqtt.fleetNamespace`, or `mqtt.namespace` from enrolment). */
  readonly namespace: string;
  readonly root: RootDocument;
  readonly username?: string;
  readonly password?: string;
  /** Called with each chunk index as it arrives; return true to drop the connection right there. */
  readonly disconnectAfterChunk?: (received: number) => boolean;
}

interface Download {
  readonly sha256: string;
  readonly size: number;
  readonly chunkCount: number;
  readonly deploymentId: string;
  readonly chunks: Map<number, Buffer>;
}

/**
 * A node over MQTT for tests, before and beside the real agent: pins a root, verifies desired states
 * and manifests with libs/trust, reassembles broadcast and repair chunks, verifies the artifact, and
 * publishes heartbeats, statuses and repair requests through libs/protocol.
 */
export class SimulatedNode {
  client!: MqttClient;
  download?: Download;
  /**
   * The verified bytes of the artifact being downloaded — of the next desired state when none has come
   * yet, so a test may await it straight after deploying (the control plane can answer before the node
   * hears of it). Replaced only when a desired state arrives after the previous download settled.
   */
  verified!: Promise<Buffer>;
  readonly errors: MessageOf<'errors'>[] = [];
  repairRequests = 0;
  private verifiedSettled = false;
  private resolveVerified!: (bytes: Buffer) => void;
  private rejectVerified!: (error: unknown) => void;
  private statusSeq = 0;
  private readonly topics: FleetTopics;

  constructor(private readonly options: SimulatedNodeOptions) {
    this.topics = fleetTopics(options.namespace);
    this.expectArtifact();
  }

  private expectArtifact(): void {
    this.verifiedSettled = false;
    this.verified = new Promise<Buffer>((resolve, reject) => {
      this.resolveVerified = (bytes) => ((this.verifiedSettled = true), resolve(bytes));
      this.rejectVerified = (error) => ((this.verifiedSettled = true), reject(error));
    });
    // A test that never awaits a failed download must not die of an unhandled rejection.
    this.verified.catch(() => undefined);
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  async connect(): Promise<void> {
    const { nodeId, brokerUrl, username, password } = this.options;
    this.client = await mqtt.connectAsync(brokerUrl, {
      protocolVersion: 5,
      clientId: `node-${nodeId}`,
      clean: true,
      username,
      password,
      reconnectPeriod: 0,
      will: { topic: this.topics.uplink(nodeId, 'presence'), payload: encodeMessage('presence', { ...envelopeFields(), online: false }), qos: 1, retain: true },
    });
    this.client.on('message', (topic, payload) => void this.onMessage(topic, payload));
    await this.client.subscribeAsync([this.topics.desired(nodeId), this.topics.errors(nodeId), this.topics.allArtifactChunks, this.topics.repairChunks(nodeId)], { qos: 1 });
  }

  /** Clears the presence this node left retained on the broker, then disconnects. */
  async disconnect(): Promise<void> {
    if (!this.client?.connected) return;
    await this.client.publishAsync(this.topics.uplink(this.nodeId, 'presence'), '', { qos: 1, retain: true });
    await this.client.endAsync();
  }

  publish<K extends MessageKind>(kind: K & ('status' | 'heartbeat' | 'presence' | 'results' | 'artifact-requests'), message: MessageOf<K>): Promise<unknown> {
    return this.client.publishAsync(this.topics.uplink(this.nodeId, kind), encodeMessage(kind, message), { qos: 1 });
  }

  publishRaw(kind: 'status' | 'heartbeat' | 'presence' | 'results' | 'artifact-requests', payload: string | Buffer): Promise<unknown> {
    return this.client.publishAsync(this.topics.uplink(this.nodeId, kind), payload, { qos: 1 });
  }

  heartbeat(seq: number): HeartbeatMessage {
    return plainHeartbeat(seq);
  }

  /** Asks for every chunk not yet received. */
  async requestMissing(): Promise<number> {
    const d = this.download;
    if (!d) throw new Error('no download in progress');
    const missing = Array.from({ length: d.chunkCount }, (_, i) => i).filter((i) => !d.chunks.has(i));
    if (missing.length === 0) return 0;
    this.repairRequests++;
    await this.publish('artifact-requests', { ...envelopeFields(), sha256: d.sha256, missing: toRanges(missing) });
    return missing.length;
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    if (topic === this.topics.desired(this.nodeId)) return this.onDesired(payload);
    if (topic === this.topics.errors(this.nodeId)) {
      const parsed = parseMessage('errors', payload);
      if (parsed.ok) this.errors.push(parsed.value);
      return;
    }
    const chunkTopic = this.topics.parseChunk(topic);
    if (chunkTopic && this.download?.sha256 === chunkTopic.sha256) this.onChunk(payload);
  }

  private onDesired(payload: Buffer): void {
    if (payload.length === 0) return;
    const parsed = parseMessage('desired', payload);
    if (!parsed.ok) throw parsed.error;
    const now = new Date();
    const state = verifyDesiredState(parsed.value.desired as unknown as Envelope<DesiredState>, this.options.root, { nodeId: this.nodeId, now });
    const manifest = verifyManifest(state.manifest, this.options.root, { now });
    // The retained desired state comes again on every reconnect: keep the download in progress.
    if (this.download?.deploymentId === state.deploymentId) return;
    this.download = { sha256: manifest.sha256, size: manifest.size, chunkCount: parsed.value.artifact.chunkCount, deploymentId: state.deploymentId, chunks: new Map() };
    if (this.verifiedSettled) this.expectArtifact();
    // Like the agent: `downloading` once chunks are accepted (the control plane's broadcast waits for it).
    void this.status('received').then(() => this.status('downloading'));
  }

  private onChunk(payload: Buffer): void {
    const d = this.download;
    if (!d) return;
    const chunk = decodeChunk(payload);
    if (d.chunks.has(chunk.index)) return;
    d.chunks.set(chunk.index, Buffer.from(chunk.data));
    if (this.options.disconnectAfterChunk?.(d.chunks.size)) {
      void this.client.endAsync(true);
      return;
    }
    if (d.chunks.size === d.chunkCount) void this.verify(d);
  }

  private async verify(d: Download): Promise<void> {
    const ordered = Array.from({ length: d.chunkCount }, (_, i) => d.chunks.get(i) as Buffer);
    try {
      await verifyArtifactStream(Readable.from(ordered), d, { stallTimeoutMs: 5000 });
      await this.status('verified');
      this.resolveVerified(Buffer.concat(ordered));
    } catch (error) {
      this.rejectVerified(error);
    }
  }

  private status(state: MessageOf<'status'>['state']): Promise<unknown> {
    if (!this.download || !this.client.connected) return Promise.resolve();
    return this.publish('status', { ...envelopeFields(), seq: ++this.statusSeq, deploymentId: this.download.deploymentId, state });
  }
}

/** A valid heartbeat of a node serving nothing; `extra` overrides fields (tests of bounds and ingest). */
export function plainHeartbeat(seq: number, extra: Partial<HeartbeatMessage> = {}): HeartbeatMessage {
  return { ...envelopeFields(), seq, model: null, uptimeS: seq, cpu: 0.1, memMb: 64, freeDiskMb: 1000, inferences: 0, errors: 0, latencyMs: null, ...extra };
}
