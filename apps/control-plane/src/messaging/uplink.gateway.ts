import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
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
import { TelemetryService } from '../telemetry/telemetry.service.js';
import { MessagingMetrics } from './messaging.metrics.js';
import { MqttConnection } from './mqtt-connection.js';

/**
 * The MQTT edge for node traffic: subscribes through shared subscriptions (replicas split the load),
 * turns each payload into a typed message or a counted, logged refusal with an error event back to the
 * node, and hands valid messages to the services. Nothing here throws into mqtt.js.
 */
@Injectable()
export class UplinkGateway implements OnApplicationBootstrap {
  private readonly logger = new Logger(UplinkGateway.name);

  constructor(
    private readonly mqtt: MqttConnection,
    private readonly nodes: NodeDirectory,
    private readonly telemetry: TelemetryService,
    private readonly attestation: AttestationService,
    private readonly repairs: RepairService,
    private readonly metrics: MessagingMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.mqtt.onMessage((topic, payload) => {
      // An empty payload is a retained message being cleared (presence of a removed node): nothing to do.
      if (!topic.startsWith(this.mqtt.topics.nodesPrefix) || payload.length === 0) return;
      this.handle(topic, payload).catch((error: unknown) => this.logger.error({ err: error, topic }, 'failed to handle a node message'));
    });
    this.mqtt.keepSubscribed(NODE_UPLINK_KINDS.map((kind) => this.mqtt.topics.sharedUplink(this.config.mqtt.sharedGroup, kind)));
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
      case 'artifact-requests': {
        const request = message as MessageOf<'artifact-requests'>;
        const outcome = await this.repairs.repair(nodeId, request);
        if ('refusal' in outcome) return this.refuse(nodeId, kind, this.mqtt.topics.uplink(nodeId, kind), outcome.refusal, { detail: outcome.detail, refId: request.id });
        return;
      }
    }
  }

  /** Counts and logs the refusal, and tells the node why (unless the node itself is unknown). */
  private async refuse(
    nodeId: string,
    kind: NodeUplinkKind,
    topic: string,
    reason: string,
    about: { readonly error?: ProtocolError; readonly detail?: string; readonly refId?: string } = {},
  ): Promise<void> {
    const detail = about.detail ?? about.error?.message ?? reason;
    this.metrics.invalid.inc({ kind, reason });
    this.logger.warn({ nodeId, kind, reason, detail }, 'refused a node message');
    if (reason === 'unknown-node') return;
    const event = { ...envelopeFields(), code: reason, detail: detail.slice(0, 1000), topic, ...(about.refId ? { refId: about.refId } : {}) };
    await this.mqtt.publish(this.mqtt.topics.errors(nodeId), encodeMessage('errors', event), { qos: 1 });
  }
}
