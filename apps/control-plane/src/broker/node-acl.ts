import { type FleetTopics, NODE_UPLINK_KINDS } from '#protocol';

/**
 * What one node may do at the broker, whatever enforces it (Mosquitto dynamic security, or a broker that
 * asks the control plane over HTTP): publish on its own uplink topics only; subscribe to its own desired
 * state, errors, acks, results requests and repair chunks, the artifact broadcast filter, the trust roots
 * and the attestation nonce. Every entry is a literal topic or filter (no pattern of the node's choosing).
 */
export interface NodeAcl {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

export function nodeAcl(topics: FleetTopics, nodeId: string): NodeAcl {
  return {
    publish: NODE_UPLINK_KINDS.map((kind) => topics.uplink(nodeId, kind)),
    subscribe: [
      topics.desired(nodeId),
      topics.errors(nodeId),
      topics.acks(nodeId),
      topics.resultsRequests(nodeId),
      topics.repairChunks(nodeId),
      topics.allArtifactChunks,
      // Every root version (public data, retained): how rotations and revocations reach the node.
      topics.allTrustRoots,
      topics.attestationNonce,
    ],
  };
}
