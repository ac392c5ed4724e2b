/**
 * Every MQTT topic EdgeFleet uses, and nothing spells one by hand elsewhere. Versioned root: a breaking
 * change to the wire contract gets a new root and both can run side by side during an upgrade. Under the
 * root, a per-installation namespace (the fleet): two installations sharing a broker never hear each other.
 */
export const TOPIC_ROOT = 'ef/v1';

/** Kinds of topic a node publishes on (each under `ef/v1/{fleet}/nodes/{nodeId}/`). */
export const NODE_UPLINK_KINDS = ['status', 'heartbeat', 'presence', 'results', 'artifact-requests', 'shadow'] as const;
export type NodeUplinkKind = (typeof NODE_UPLINK_KINDS)[number];

/**
 * A fleet namespace is one MQTT topic level: letters, digits, `_`, `-` and `.` (not first), at most 64.
 * That rules out the wildcards `+` and `#`, the level separator `/`, NUL, `$` (reserved by brokers) and
 * anything a dynsec ACL or a shell would need to quote.
 */
export const FLEET_NAMESPACE_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;

export const isFleetNamespace = (value: unknown): value is string => typeof value === 'string' && FLEET_NAMESPACE_PATTERN.test(value);

export class InvalidFleetNamespaceError extends Error {
  constructor(readonly namespace: string) {
    super(`invalid fleet namespace ${JSON.stringify(namespace.slice(0, 80))}: one topic level of 1-64 letters, digits, _, - or . (not first)`);
    this.name = 'InvalidFleetNamespaceError';
  }
}

export interface ParsedNodeTopic {
  readonly nodeId: string;
  readonly kind: NodeUplinkKind;
}

/** The topics of one fleet namespace; build once (`fleetTopics(namespace)`) and keep. */
export interface FleetTopics {
  readonly namespace: string;
  /** `ef/v1/{fleet}`: every topic of this installation is below it. */
  readonly root: string;
  /** Filter for every topic of this installation (`ef/v1/{fleet}/#`). */
  readonly everything: string;
  /** Prefix of every node topic (`ef/v1/{fleet}/nodes/`). */
  readonly nodesPrefix: string;
  /** CP → node, retained, QoS 1: the node's signed desired state. */
  desired(nodeId: string): string;
  /** CP → node, QoS 1: result batches and statuses the control plane has stored (the node may forget them). */
  acks(nodeId: string): string;
  /** CP → node, QoS 1: an error event about something the node sent. */
  errors(nodeId: string): string;
  /** CP → node, QoS 1: send the results kept on the node that the request names (results policy). */
  resultsRequests(nodeId: string): string;
  /** CP → every node, retained, QoS 1: the signed root of `version` (one retained message per version). */
  trustRoot(version: number): string;
  /** Subscription filter for every root version (a node's standing subscription; retained ones arrive at once). */
  readonly allTrustRoots: string;
  /** Reads a trust root topic of this fleet into its version; null when it is not one. */
  parseTrustRoot(topic: string): number | null;
  /** CP → every node of the fleet, retained, QoS 1: the nonce attestation reports sign. */
  readonly attestationNonce: string;
  /** node → CP */
  uplink(nodeId: string, kind: NodeUplinkKind): string;
  /** CP → every node of a deployment batch, QoS 1: one chunk of an artifact, published once per batch. */
  artifactChunk(sha256: string, index: number): string;
  /** Subscription filter for all chunks of one artifact. */
  artifactChunks(sha256: string): string;
  /** Subscription filter for all chunks of every artifact (a node's standing subscription). */
  readonly allArtifactChunks: string;
  /** Filter for everything under `artifacts/` (the broker ACL's default deny). */
  readonly allArtifacts: string;
  /** CP → one node, QoS 1: a chunk re-sent in answer to that node's repair request. */
  repairChunk(nodeId: string, sha256: string, index: number): string;
  repairChunks(nodeId: string): string;
  /**
   * MQTT 5 shared subscription: each message on `kind` from any node goes to one member of `group`,
   * so control-plane replicas split the load.
   */
  sharedUplink(group: string, kind: NodeUplinkKind): string;
  /** Reads `ef/v1/{fleet}/nodes/{nodeId}/{kind}`; null for anything else (another fleet, a malformed node id). */
  parseUplink(topic: string): ParsedNodeTopic | null;
  /** Reads a broadcast or repair chunk topic of this fleet; null when it is not one. */
  parseChunk(topic: string): { sha256: string; index: number } | null;
}

const NODE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const CHUNK_INDEX = /^\d{1,9}$/;
const ROOT_VERSION = /^[1-9]\d{0,8}$/;

/** The topic builders and parsers of one fleet namespace; throws InvalidFleetNamespaceError for a bad one. */
export function fleetTopics(namespace: string): FleetTopics {
  if (!isFleetNamespace(namespace)) throw new InvalidFleetNamespaceError(namespace);
  const root = `${TOPIC_ROOT}/${namespace}`;
  const node = (nodeId: string) => `${root}/nodes/${nodeId}`;
  const rootParts = root.split('/');
  return {
    namespace,
    root,
    everything: `${root}/#`,
    nodesPrefix: `${root}/nodes/`,
    desired: (nodeId) => `${node(nodeId)}/desired`,
    acks: (nodeId) => `${node(nodeId)}/acks`,
    errors: (nodeId) => `${node(nodeId)}/errors`,
    resultsRequests: (nodeId) => `${node(nodeId)}/results-requests`,
    attestationNonce: `${root}/attestation/nonce`,
    uplink: (nodeId, kind) => `${node(nodeId)}/${kind}`,
    trustRoot: (version) => `${root}/trust/root/${version}`,
    allTrustRoots: `${root}/trust/root/+`,
    parseTrustRoot(topic) {
      const prefix = `${root}/trust/root/`;
      if (!topic.startsWith(prefix)) return null;
      const version = topic.slice(prefix.length);
      return ROOT_VERSION.test(version) ? Number(version) : null;
    },
    artifactChunk: (sha256, index) => `${root}/artifacts/${sha256}/chunks/${index}`,
    artifactChunks: (sha256) => `${root}/artifacts/${sha256}/chunks/+`,
    allArtifactChunks: `${root}/artifacts/+/chunks/+`,
    allArtifacts: `${root}/artifacts/#`,
    repairChunk: (nodeId, sha256, index) => `${node(nodeId)}/chunks/${sha256}/${index}`,
    repairChunks: (nodeId) => `${node(nodeId)}/chunks/+/+`,
    sharedUplink: (group, kind) => `$share/${group}/${root}/nodes/+/${kind}`,
    parseUplink(topic) {
      const parts = topic.split('/');
      if (parts.length !== rootParts.length + 3 || !rootParts.every((p, i) => parts[i] === p) || parts[3] !== 'nodes') return null;
      const [nodeId = '', kind = ''] = parts.slice(4);
      if (!NODE_ID.test(nodeId) || !(NODE_UPLINK_KINDS as readonly string[]).includes(kind)) return null;
      return { nodeId, kind: kind as NodeUplinkKind };
    },
    parseChunk(topic) {
      if (!topic.startsWith(`${root}/`)) return null;
      const rest = topic.slice(root.length + 1).split('/');
      // artifacts/{sha}/chunks/{i} or nodes/{nodeId}/chunks/{sha}/{i}
      const sha256 = rest.length === 4 && rest[0] === 'artifacts' && rest[2] === 'chunks' ? rest[1] : rest.length === 5 && rest[0] === 'nodes' && rest[2] === 'chunks' ? rest[3] : undefined;
      const index = rest[rest.length - 1] ?? '';
      if (sha256 === undefined || !SHA256.test(sha256) || !CHUNK_INDEX.test(index)) return null;
      return { sha256, index: Number(index) };
    },
  };
}
