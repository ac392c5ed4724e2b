import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import {
  encodeMessage,
  envelopeFields,
  type MessageOf,
  NODE_UPLINK_KINDS,
  type NodeUplinkKind,
  parseMessage,
  type ProtocolError,
} from '#protocol';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { RepairService } from '../deployments/repair.service.js';
import { NodeDirectory } from '../nodes/node-directory.js';
import { AttestationService } from '../attestation/attestation.service.js';
import { ShadowService } from '../shadow/shadow.service.js';
import { TelemetryService } from '../telemetry/telemetry.service.js';
import { MessagingMetrics } from './messaging.metrics.js';
import { MqttConnection } from './mqtt-connection.js';

/**
 * The MQTT edge for node traffic: subscribes through shared subscriptions (replicas split the load),
 * turns each payload into a typed message or a counted, logged refusal with an error event back to the
 * node, and hands valid messages to the services. Nothing here throws into mqtt.js.
 *
 * A message is acknowledged to the broker once `handle` resolves, that is once it is in a service's
 * hands (an ingest batch, the presence row); a repair is acknowledged once it has started, so one large
 * repair does not hold up the node traffic behind it.
 */
@Injectable()
export class UplinkGateway implements BeforeApplicationShutdown {
  private readonly logger = new Logger(UplinkGateway.name);
  /** Repairs being answered: a graceful stop lets them finish. */
  private readonly repairing = new Set<Promise<void>>();

  constructor(
    private readonly mqtt: MqttConnection,
    private readonly nodes: NodeDirectory,
    private readonly telemetry: TelemetryService,
    private readonly attestation: AttestationService,
    private readonly repairs: RepairService,
    private readonly shadow: ShadowService,
    private readonly metrics: MessagingMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    // Attached at construction, before the connection lets any message through (see MqttConnection).
    this.mqtt.onMessage(async (topic, payload) => {
      // An empty payload is a retained message being cleared (presence of a removed node): nothing to do.
      if (!topic.startsWith(this.mqtt.topics.nodesPrefix) || payload.length === 0) return;
      await this.handle(topic, payload).catch((error: unknown) => this.logger.error({ err: error, topic }, 'failed to handle a node message'));
    });
    this.mqtt.keepSubscribed(NODE_UPLINK_KINDS.map((kind) => this.mqtt.topics.sharedUplink(this.config.mqtt.sharedGroup, kind)));
  }

  /** After the connection stopped taking messages: the repairs under way finish before the process ends. */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.repairing]);
  }

  private async handle(topic: string, payload: Buffer): Promise<void> {
    const target = this.mqtt.topics.parseUplink(topic);
    if (!target) {
      this.metrics.invalid.inc({ kind: 'unknown', reason: 'bad-topic' });
      return;
    }
    const parsed = parseMessage(target.kind, payload);
    if (!parsed.ok) return this.refuse(target.nodeId, target.kind, topic, parsed.error.reason, { error: parsed.error });
    if (!(await this.nodes.isActive(target.nodeId))) return this.refuse(target.nodeId, target.kind, topic, 'unknown-node');
    this.metrics.received.inc({ kind: target.kind });
    await this.dispatch(target.nodeId, target.kind, parsed.value);
  }

  private async dispatch(nodeId: string, kind: NodeUplinkKind, message: MessageOf<NodeUplinkKind>): Promise<void> {
    switch (kind) {
      case 'heartbeat':
        this.attestation.accept(nodeId, message as MessageOf<'heartbeat'>);
        return this.telemetry.acceptHeartbeat(nodeId, message as MessageOf<'heartbeat'>);
      case 'results':
        return this.telemetry.acceptResults(nodeId, message as MessageOf<'results'>);
      case 'status':
        return this.telemetry.acceptStatus(nodeId, message as MessageOf<'status'>);
      case 'presence':
        return this.telemetry.acceptPresence(nodeId, message as MessageOf<'presence'>);
      case 'artifact-requests':
        return this.startRepair(nodeId, message as MessageOf<'artifact-requests'>);
      case 'shadow':
        return this.shadow.accept(nodeId, message as MessageOf<'shadow'>);
    }
  }

  /** Starts answering a repair request and returns at once; the answer is tracked until it is sent. */
  private startRepair(nodeId: string, request: MessageOf<'artifact-requests'>): void {
    const repair = this.repairs
      .repair(nodeId, request)
      .then((outcome) => {
        if ('refusal' in outcome) this.refuse(nodeId, 'artifact-requests', this.mqtt.topics.uplink(nodeId, 'artifact-requests'), outcome.refusal, { detail: outcome.detail, refId: request.id });
      })
      .catch((error: unknown) => this.logger.error({ err: error, nodeId }, 'failed to answer a repair request'))
      .finally(() => this.repairing.delete(repair));
    this.repairing.add(repair);
  }

  /** Counts and logs the refusal, and tells the node why (unless the node itself is unknown). */
  private refuse(
    nodeId: string,
    kind: NodeUplinkKind,
    topic: string,
    reason: string,
    about: { readonly error?: ProtocolError; readonly detail?: string; readonly refId?: string } = {},
  ): void {
    const detail = about.detail ?? about.error?.message ?? reason;
    this.metrics.invalid.inc({ kind, reason });
    this.logger.warn({ nodeId, kind, reason, detail }, 'refused a node message');
    if (reason === 'unknown-node') return;
    const event = { ...envelopeFields(), code: reason, detail: detail.slice(0, 1000), topic, ...(about.refId ? { refId: about.refId } : {}) };
    // Not awaited: the message being refused is acknowledged without waiting for the broker's answer to this one.
    this.mqtt
      .publish(this.mqtt.topics.errors(nodeId), encodeMessage('errors', event), { qos: 1 })
      .catch((error: unknown) => this.logger.warn({ err: error, nodeId }, 'could not send an error event'));
  }
}
