/**
 * Every MQTT topic EdgeFleet uses, and nothing spells one by hand elsewhere. Versioned root: a breaking
 * change to the wire contract gets a new root and both can run side by side during an upgrade.
 */
export const TOPIC_ROOT = 'ef/v1';

/** Kinds of topic a node publishes on (each under `ef/v1/nodes/{nodeId}/`). */
export const NODE_UPLINK_KINDS = ['status', 'heartbeat', 'presence', 'results', 'artifact-requests'] as const;
export type NodeUplinkKind = (typeof NODE_UPLINK_KINDS)[number];

export const topics = {
  /** CP → node, retained, QoS 1: the node's signed desired state. */
  desired: (nodeId: string) => `${TOPIC_ROOT}/nodes/${nodeId}/desired`,
  /** CP → node, QoS 1: result batches the control plane has stored (the node may forget them). */
  acks: (nodeId: string) => `${TOPIC_ROOT}/nodes/${nodeId}/acks`,
  /** CP → node, QoS 1: an error event about something the node sent. */
  errors: (nodeId: string) => `${TOPIC_ROOT}/nodes/${nodeId}/errors`,
  /** node → CP */
  uplink: (nodeId: string, kind: NodeUplinkKind) => `${TOPIC_ROOT}/nodes/${nodeId}/${kind}`,
  /** CP → every node of a deployment batch, QoS 1: one chunk of an artifact, published once per batch. */
  artifactChunk: (sha256: string, index: number) => `${TOPIC_ROOT}/artifacts/${sha256}/chunks/${index}`,
  /** Subscription filter for all chunks of one artifact. */
  artifactChunks: (sha256: string) => `${TOPIC_ROOT}/artifacts/${sha256}/chunks/+`,
  /** CP → one node, QoS 1: a chunk re-sent in answer to that node's repair request. */
  repairChunk: (nodeId: string, sha256: string, index: number) => `${TOPIC_ROOT}/nodes/${nodeId}/chunks/${sha256}/${index}`,
  repairChunks: (nodeId: string) => `${TOPIC_ROOT}/nodes/${nodeId}/chunks/+/+`,
  /**
   * MQTT 5 shared subscription: each message on `kind` from any node goes to one member of `group`,
   * so control-plane replicas split the load.
   */
  sharedUplink: (group: string, kind: NodeUplinkKind) => `$share/${group}/${TOPIC_ROOT}/nodes/+/${kind}`,
} as const;

export interface ParsedNodeTopic {
  readonly nodeId: string;
  readonly kind: NodeUplinkKind;
}

const NODE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Reads `ef/v1/nodes/{nodeId}/{kind}`; null for anything else (including a malformed node id). */
export function parseUplinkTopic(topic: string): ParsedNodeTopic | null {
  const parts = topic.split('/');
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT || parts[2] !== 'nodes') return null;
  const [, , , nodeId = '', kind = ''] = parts;
  if (!NODE_ID.test(nodeId) || !(NODE_UPLINK_KINDS as readonly string[]).includes(kind)) return null;
  return { nodeId, kind: kind as NodeUplinkKind };
}

/** Reads the chunk index from a broadcast or repair chunk topic; null when it is not one. */
export function parseChunkTopic(topic: string): { sha256: string; index: number } | null {
  const m = /^ef\/v1\/(?:artifacts\/([0-9a-f]{64})\/chunks|nodes\/[^/]+\/chunks\/([0-9a-f]{64}))\/(\d{1,9})$/.exec(topic);
  if (!m) return null;
  return { sha256: (m[1] ?? m[2]) as string, index: Number(m[3]) };
}
