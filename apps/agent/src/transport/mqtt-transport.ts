import mqtt, { type MqttClient } from 'mqtt';
import { tlsTrustFailure } from '#common';
import {
  decodeChunk,
  type DesiredStateMessage,
  encodeMessage,
  envelopeFields,
  type FleetTopics,
  fleetTopics,
  type MessageOf,
  parseMessage,
  type ResultsRequestMessage,
} from '#protocol';
import type { NodeIdentity } from '../state/identity.js';
import { type BrokerTlsOptions, brokerTlsOptions, type PinnedCa } from './broker-tls.js';
import { dropsBroadcastChunk } from './chunk-loss.js';

export interface TransportHandlers {
  onDesired(message: DesiredStateMessage): void;
  /** A signed root from the trust topic (not yet verified: the handler walks the chain). */
  onRoot(envelope: unknown): void;
  onChunk(sha256: string, index: number, data: Buffer): void;
  onConnectionChange(connected: boolean): void;
  /** Results messages the control plane has stored. */
  onAck(ack: { results?: string[]; statusSeq?: number }): void;
  /** The control plane's current attestation nonce (retained; rotated). */
  onAttestationNonce(nonce: string): void;
  /** The control plane asks for results the node kept (its results policy did not send them). */
  onResultsRequest(request: ResultsRequestMessage): void;
  log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
}

type UplinkKind = 'status' | 'heartbeat' | 'results' | 'artifact-requests' | 'shadow';

const BASE_RECONNECT_MS = 1000;
const MAX_RECONNECT_MS = 30_000;

/**
 * The node's MQTT session: its own credentials, a persistent session (chunks published while it is
 * briefly away are queued for it), a retained last will that says offline, and reconnects with capped,
 * jittered exponential backoff so a fleet does not reconnect in lockstep after a broker restart. Over
 * TLS, the broker's certificate must chain to the pinned CA (`mqttCaFile`); a broker that fails this is
 * treated as any unreachable broker (logged, retried with backoff), never connected to.
 */
export class MqttTransport {
  private client?: MqttClient;
  private failures = 0;
  private readonly topics: FleetTopics;
  private readonly tls: BrokerTlsOptions;

  /** Throws an AgentConfigError when a CA is pinned but the broker URL is not TLS. */
  constructor(
    private readonly identity: NodeIdentity,
    private readonly handlers: TransportHandlers,
    private readonly agentVersion: string,
    private readonly pinnedCa?: PinnedCa,
  ) {
    this.topics = fleetTopics(identity.mqtt.namespace);
    this.tls = brokerTlsOptions(identity.mqtt.url, pinnedCa);
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  start(): void {
    const { nodeId, mqtt: creds } = this.identity;
    const client = mqtt.connect(creds.url, {
      protocolVersion: 5,
      clientId: creds.clientId,
      username: creds.username,
      password: creds.password,
      clean: false,
      properties: { sessionExpiryInterval: 7 * 24 * 3600 },
      reconnectPeriod: BASE_RECONNECT_MS,
      connectTimeout: 10_000,
      // mqtt-packet otherwise pre-builds a Buffer for each of the 65,536 message ids (≈ 8 MB of heap on
      // a device that sends a few messages a second).
      writeCache: false,
      ...this.tls,
      will: { topic: this.topics.uplink(nodeId, 'presence'), payload: encodeMessage('presence', { ...envelopeFields(), online: false }), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      this.failures = 0;
      client.options.reconnectPeriod = BASE_RECONNECT_MS;
      this.handlers.log('info', 'connected to the broker');
      this.handlers.onConnectionChange(true);
      // Roots first, in a SUBSCRIBE of their own: the broker sends their retained messages before it
      // acknowledges the next subscription, so a desired state signed under a newer root finds it walked to.
      void client
        .subscribeAsync(this.topics.allTrustRoots, { qos: 1 })
        .then(
          (granted) => granted.every((g) => g.qos <= 2),
          () => false,
        )
        .then((subscribed) => {
          // A broker role from before the trust topic refuses it: the node keeps its root until re-enrolled.
          if (!subscribed) this.handlers.log('warn', 'the broker refused the trust root topic; re-enrol this node to follow key rotations', {});
          return client.subscribeAsync([this.topics.desired(nodeId), this.topics.errors(nodeId), this.topics.acks(nodeId), this.topics.repairChunks(nodeId), this.topics.allArtifactChunks], { qos: 1 });
        })
        .then(() => this.publish('presence', { ...envelopeFields(), online: true, agentVersion: this.agentVersion }, true))
        .catch((error: unknown) => this.handlers.log('error', 'subscribe failed', { err: String(error) }));
      // Apart: a broker role from before attestation refuses this one topic, and that must not cost the others.
      void client
        .subscribeAsync(this.topics.attestationNonce, { qos: 1 })
        .then((granted) => {
          if (granted.some((g) => g.qos > 2)) this.handlers.log('warn', 'the broker refused the attestation nonce topic; re-enrol this node to attest', {});
        })
        .catch((error: unknown) => this.handlers.log('warn', 'subscribe to the attestation nonce failed', { err: String(error) }));
      // Apart too: a broker role from before results policies refuses it (re-enrolling adds it).
      void client
        .subscribeAsync(this.topics.resultsRequests(nodeId), { qos: 1 })
        .then((granted) => {
          if (granted.some((g) => g.qos > 2)) this.handlers.log('warn', 'the broker refused the results-requests topic; re-enrol this node to answer requests for kept results', {});
        })
        .catch((error: unknown) => this.handlers.log('warn', 'subscribe to results requests failed', { err: String(error) }));
    });
    client.on('close', () => {
      this.handlers.onConnectionChange(false);
      const backoff = Math.min(MAX_RECONNECT_MS, BASE_RECONNECT_MS * 2 ** this.failures++);
      client.options.reconnectPeriod = Math.round(backoff * (0.5 + Math.random()));
    });
    client.on('error', (error) => this.onConnectionError(error));
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  async publish<K extends UplinkKind | 'presence'>(kind: K, message: MessageOf<K>, retain = false): Promise<void> {
    if (!this.client) throw new Error('transport not started');
    await this.publishEncoded(kind, encodeMessage(kind, message), retain);
  }

  /** A payload already encoded by one of the protocol's typed builders (e.g. `encodeResultsMessage`). */
  async publishEncoded(kind: UplinkKind | 'presence', payload: Buffer, retain = false): Promise<void> {
    if (!this.client) throw new Error('transport not started');
    await this.client.publishAsync(this.topics.uplink(this.identity.nodeId, kind), payload, { qos: 1, retain });
  }

  async stop(): Promise<void> {
    if (!this.client) return;
    if (this.client.connected) await this.publish('presence', { ...envelopeFields(), online: false }, true).catch(() => undefined);
    await this.client.endAsync();
  }

  /** Simulates a network loss (tests): drops the socket without the clean disconnect. */
  drop(): void {
    this.client?.stream.destroy();
  }

  private onConnectionError(error: Error): void {
    const untrusted = tlsTrustFailure(error);
    if (untrusted) {
      // Not transient, but retried like any other failure: the operator may be replacing the certificate.
      const code = (error as NodeJS.ErrnoException).code;
      const pinned = this.pinnedCa?.file ?? 'system CAs';
      return this.handlers.log('error', `the broker’s TLS certificate is not trusted: ${untrusted}; not connecting`, { url: this.identity.mqtt.url, code, caFile: pinned, err: error.message });
    }
    const code = (error as { code?: number }).code;
    const refused = code === 134 || code === 135 || code === 4 || code === 5;
    this.handlers.log(refused ? 'error' : 'warn', refused ? 'the broker refused this node’s credentials' : 'broker connection error', { err: error.message });
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (topic === this.topics.desired(this.identity.nodeId)) {
      if (payload.length === 0) return;
      const parsed = parseMessage('desired', payload);
      if (!parsed.ok) return this.handlers.log('warn', 'invalid desired state', { detail: parsed.error.message });
      return this.handlers.onDesired(parsed.value);
    }
    if (this.topics.parseTrustRoot(topic) !== null) {
      if (payload.length === 0) return;
      const parsed = parseMessage('trust-root', payload);
      if (!parsed.ok) return this.handlers.log('warn', 'invalid root message', { detail: parsed.error.message });
      return this.handlers.onRoot(parsed.value.root);
    }
    if (topic === this.topics.acks(this.identity.nodeId)) {
      const parsed = parseMessage('acks', payload);
      if (parsed.ok) this.handlers.onAck(parsed.value);
      return;
    }
    if (topic === this.topics.attestationNonce) {
      if (payload.length === 0) return;
      const parsed = parseMessage('attestation-nonce', payload);
      if (!parsed.ok) return this.handlers.log('warn', 'invalid attestation nonce', { detail: parsed.error.message });
      return this.handlers.onAttestationNonce(parsed.value.nonce);
    }
    if (topic === this.topics.resultsRequests(this.identity.nodeId)) {
      const parsed = parseMessage('results-requests', payload);
      if (!parsed.ok) return this.handlers.log('warn', 'invalid results request', { detail: parsed.error.message });
      return this.handlers.onResultsRequest(parsed.value);
    }
    if (topic === this.topics.errors(this.identity.nodeId)) {
      const parsed = parseMessage('errors', payload);
      return this.handlers.log('warn', 'the control plane refused a message', parsed.ok ? { code: parsed.value.code, detail: parsed.value.detail } : {});
    }
    const chunkTopic = this.topics.parseChunk(topic);
    if (!chunkTopic) return;
    try {
      const chunk = decodeChunk(payload);
      if (chunk.index !== chunkTopic.index) throw new Error('chunk index differs from its topic');
      if (dropsBroadcastChunk(chunk.index) && topic === this.topics.artifactChunk(chunkTopic.sha256, chunk.index)) return;
      this.handlers.onChunk(chunkTopic.sha256, chunk.index, chunk.data);
    } catch (error) {
      this.handlers.log('warn', 'invalid chunk', { topic, err: String(error) });
    }
  }
}
