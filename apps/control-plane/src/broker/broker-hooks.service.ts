import { Inject, Injectable } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import type { FleetTopics } from '#protocol';
import { hashSecret, secretsEqual } from '#common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { MqttConnection } from '../messaging/mqtt-connection.js';
import { type AclRule, controlPlaneAclRules, controlPlanePermits, nodeAclRules, nodePermits } from './broker-acl.js';
import type { BrokerAction } from './dto/broker-hooks.dto.js';
import { nodeAcl } from './node-acl.js';
import { NodeCredentialsRepository } from './node-credentials.repository.js';

export type HookResult = 'allow' | 'deny' | 'ignore';
export interface AuthenticateAnswer {
  readonly result: HookResult;
  readonly is_superuser: false;
  readonly acl?: AclRule[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The broker's HTTP authentication and authorization hooks (EMQX): who may connect, and where each client
 * may publish and subscribe, from the same credentials and ACL that dynamic security enforces on
 * Mosquitto. A username that is neither this installation's account nor one of its nodes gets `ignore`,
 * so another installation's hook on the same broker can answer for it; a known node with a wrong secret
 * or client id gets `deny`.
 */
@Injectable()
export class BrokerHooksService {
  private readonly topics: FleetTopics;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly credentials: NodeCredentialsRepository,
    mqtt: MqttConnection,
  ) {
    this.topics = mqtt.topics;
  }

  async authenticate(username: string, password: string, clientId: string): Promise<AuthenticateAnswer> {
    if (this.isControlPlane(username)) {
      const ok = this.config.mqtt.password !== undefined && secretsEqual(password, this.config.mqtt.password);
      return ok ? allow(controlPlaneAclRules(this.topics, this.config.mqtt.sharedGroup)) : deny();
    }
    const node = await this.knownNode(username);
    if (!node) return { result: 'ignore', is_superuser: false };
    const ok = node.secretHash !== null && clientId === `node-${node.id}` && hashesEqual(hashSecret(password), node.secretHash);
    return ok ? allow(nodeAclRules(nodeAcl(this.topics, node.id))) : deny();
  }

  async authorize(username: string, clientId: string, action: BrokerAction, topic: string): Promise<HookResult> {
    if (this.isControlPlane(username)) return controlPlanePermits(this.topics, this.config.mqtt.sharedGroup, topic) ? 'allow' : 'deny';
    const node = await this.knownNode(username);
    if (!node) return 'ignore'; // not a client of this installation: another authorizer may know it
    // One of ours, decommissioned or reset (still connected under an old secret) or not on its pinned
    // client id: refused outright, never left to the broker's fallback (EMQX allows on no match by default).
    if (node.secretHash === null || clientId !== `node-${node.id}`) return 'deny';
    return nodePermits(nodeAcl(this.topics, node.id), action, topic) ? 'allow' : 'deny';
  }

  private isControlPlane(username: string): boolean {
    return this.config.mqtt.username !== undefined && username === this.config.mqtt.username;
  }

  private knownNode(username: string) {
    return UUID.test(username) ? this.credentials.find(username) : Promise.resolve(null);
  }
}

const allow = (acl: AclRule[]): AuthenticateAnswer => ({ result: 'allow', is_superuser: false, acl });
const deny = (): AuthenticateAnswer => ({ result: 'deny', is_superuser: false });

function hashesEqual(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
