/**
 * Node identity at the broker: one credential and one least-privilege ACL set per node. The
 * implementation is chosen by config: Mosquitto dynamic security, or nothing for an anonymous
 * development broker.
 */
export abstract class BrokerAccess {
  /** Creates (or, on a retried enrolment, re-keys) the node's broker credential and ACLs. */
  abstract registerNode(nodeId: string, secret: string): Promise<void>;
  /** Lets these nodes receive the chunks of one artifact (on deployment). */
  abstract allowArtifact(nodeIds: readonly string[], sha256: string): Promise<void>;
  /** Deletes the node's credential; the broker disconnects it and refuses it from then on. */
  abstract revokeNode(nodeId: string): Promise<void>;
}

/** An anonymous development broker: nothing to create, nothing to enforce. */
export class AnonymousBrokerAccess extends BrokerAccess {
  async registerNode(): Promise<void> {}
  async allowArtifact(): Promise<void> {}
  async revokeNode(): Promise<void> {}
}
