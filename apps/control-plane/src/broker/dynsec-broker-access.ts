import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { type FleetTopics, NODE_UPLINK_KINDS } from '#protocol';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { MqttConnection } from '../messaging/mqtt-connection.js';
import { BrokerAccess } from './broker-access.js';
import { nodeAcl } from './node-acl.js';
import { type DynsecCommand, DynsecClient } from './dynsec.client.js';

/**
 * Before 0.1 every installation on a broker added its namespace to this one role, so each control plane
 * could publish into every other's namespace. Each installation now has its own role and drops this one.
 */
const SHARED_CONTROL_PLANE_ROLE = 'edgefleet-control-plane';
/** One role per installation: it grants publishing under that installation's namespace only. */
export const controlPlaneRoleOf = (fleetNamespace: string) => `edgefleet-control-plane-${fleetNamespace}`;
const roleOf = (nodeId: string) => `node-${nodeId}`;

/**
 * Mosquitto dynamic security: each node is a client (username = node id, password = node secret,
 * client id pinned) with its own role. The role lets it publish only on its own uplink topics and
 * subscribe only to its own desired state, errors and repair chunks, the trust roots, plus the artifact
 * broadcast filter, from which it receives only the artifacts deployed to it.
 */
@Injectable()
export class DynsecBrokerAccess extends BrokerAccess implements OnApplicationBootstrap {
  private readonly logger = new Logger(DynsecBrokerAccess.name);
  private readonly dynsec: DynsecClient;
  private readonly topics: FleetTopics;

  constructor(
    mqtt: MqttConnection,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
    this.dynsec = new DynsecClient(mqtt);
    this.topics = mqtt.topics;
  }

  /**
   * The control plane's own account comes from `mosquitto_ctrl dynsec init` (admin of the plugin);
   * here it gives itself the right to publish under ef/v1/{fleet}/ through a role of its own
   * namespace (never a role other installations on the broker also hold). Idempotent.
   */
  async onApplicationBootstrap(): Promise<void> {
    const username = this.config.mqtt.username;
    if (!username) throw new Error('MQTT_DYNSEC=true needs MQTT_USERNAME and MQTT_PASSWORD (the dynamic security admin)');
    const rolename = controlPlaneRoleOf(this.config.mqtt.fleetNamespace);
    await this.dynsec
      .execute(
        [
          { command: 'createRole', rolename, textname: `EdgeFleet control plane of ${this.config.mqtt.fleetNamespace}` },
          { command: 'addRoleACL', rolename, acltype: 'publishClientSend', topic: this.topics.everything, allow: true },
          { command: 'addClientRole', username, rolename },
        ],
        ['Role already exists', 'ACL with this topic already exists'],
      )
      .catch((error: unknown) => this.logger.error({ err: error }, 'could not set up the control plane role at the broker'));
    // The shared role of earlier versions would still let this account publish into other namespaces.
    await this.dynsec
      .execute([{ command: 'removeClientRole', username, rolename: SHARED_CONTROL_PLANE_ROLE }], ['Role not found', 'Client not found'])
      .catch((error: unknown) => this.logger.warn({ err: error }, 'could not remove the shared edgefleet-control-plane role from this account'));
  }

  async registerNode(nodeId: string, secret: string): Promise<void> {
    const rolename = roleOf(nodeId);
    const acl = (acltype: string, topic: string, allow = true, priority = 0) => ({ command: 'addRoleACL', rolename, acltype, topic, allow, priority });
    const allowed = nodeAcl(this.topics, nodeId);
    const commands: DynsecCommand[] = [
      { command: 'createRole', rolename, textname: `EdgeFleet node ${nodeId}` },
      ...allowed.publish.map((topic) => acl('publishClientSend', topic)),
      ...allowed.subscribe.map((topic) => acl('subscribeLiteral', topic)),
      // Receiving is allowed by default in dynsec: deny every artifact, then allow assigned ones above it.
      acl('publishClientReceive', this.topics.allArtifacts, false, -1),
    ];
    await this.dynsec.execute(commands, ['Role already exists', 'ACL with this topic already exists']);
    await this.dynsec.execute(
      [{ command: 'createClient', username: nodeId, password: secret, clientid: `node-${nodeId}`, roles: [{ rolename }] }],
      ['Client already exists'],
    );
    // A retried enrolment rotates the secret: set it whether the client is new or not.
    await this.dynsec.execute([{ command: 'setClientPassword', username: nodeId, password: secret }]);
  }

  /**
   * Lets these nodes receive the artifact's chunks, and (idempotently) publish every uplink kind this
   * version knows: a node enrolled before a kind existed (e.g. `shadow`) gets it with its next delivery,
   * instead of having its reports refused until it re-enrols.
   */
  async allowArtifact(nodeIds: readonly string[], sha256: string): Promise<void> {
    await this.dynsec.execute(
      nodeIds.flatMap((nodeId) => [
        { command: 'addRoleACL', rolename: roleOf(nodeId), acltype: 'publishClientReceive', topic: this.topics.artifactChunks(sha256), allow: true, priority: 10 },
        ...NODE_UPLINK_KINDS.map((kind) => ({ command: 'addRoleACL', rolename: roleOf(nodeId), acltype: 'publishClientSend', topic: this.topics.uplink(nodeId, kind), allow: true, priority: 0 })),
      ]),
      ['ACL with this topic already exists'],
    );
  }

  async revokeNode(nodeId: string): Promise<void> {
    await this.dynsec.execute(
      [
        { command: 'deleteClient', username: nodeId },
        { command: 'deleteRole', rolename: roleOf(nodeId) },
      ],
      ['Client not found', 'Role not found'],
    );
  }
}
