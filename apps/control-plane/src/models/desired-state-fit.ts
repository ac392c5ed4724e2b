import { UnprocessableError } from '#common';
import { fleetTopics, MAX_PAYLOAD_BYTES } from '#protocol';
import type { DesiredState, Envelope, ModelManifest } from '#trust';
import { encodeDesiredState, publishPacketBytes } from '../deployments/desired-state-message.js';

export interface DeliveryLimits {
  /** The broker's largest packet (`MQTT_MAX_MESSAGE_BYTES`, its `max_packet_size`). */
  readonly maxMessageBytes: number;
  readonly fleetNamespace: string;
  readonly chunkSizeBytes: number;
}

export interface Signer {
  manifest(manifest: ModelManifest): Envelope<ModelManifest>;
  desiredState(state: DesiredState): Envelope<DesiredState>;
}

const PLACEHOLDER_ID = '00000000-0000-4000-8000-000000000000';

/**
 * The largest desired state that will ever carry this manifest: re-signed under the largest sequence
 * (`issue` re-signs at each deployment), with the longest activation window and results policy the schema admits. Node and
 * deployment ids are UUIDs and timestamps ISO strings, so their lengths are fixed.
 */
function worstCaseDesiredState(manifest: ModelManifest, signer: Signer, limits: DeliveryLimits): { payload: number; packet: number; topic: string } {
  const now = new Date();
  const payload = encodeDesiredState(
    (state) => signer.desiredState(state),
    {
      nodeId: PLACEHOLDER_ID,
      deploymentId: PLACEHOLDER_ID,
      manifest: signer.manifest({ ...manifest, sequence: Number.MAX_SAFE_INTEGER }),
      issued: now,
      expires: now,
      activationWindow: { cron: 'x'.repeat(200), durationMinutes: Number.MAX_VALUE, timezone: 'x'.repeat(100) },
      // The longest policy: a rate with every digit a double prints.
      resultsPolicy: { mode: 'sample', rate: 0.12345678901234568 },
    },
    { sha256: manifest.sha256, size: manifest.size, chunkSize: limits.chunkSizeBytes },
  ).length;
  const topic = fleetTopics(limits.fleetNamespace).desired(PLACEHOLDER_ID);
  return { payload, packet: publishPacketBytes(topic, payload), topic };
}

const kib = (bytes: number) => `${bytes} bytes (${(bytes / 1024).toFixed(1)} KiB)`;

/**
 * Refuses (422) a version whose signed desired state could never reach a node: the manifest rides in
 * every desired state, and a packet over the broker's `max_packet_size` is cut off at the connection,
 * while a payload over the protocol's bound for `desired` is dropped by the agent. The self-test input
 * is what makes a manifest large, so that is what the error tells the uploader to shrink.
 */
export function assertDeliverable(manifest: ModelManifest, signer: Signer, limits: DeliveryLimits): void {
  const size = worstCaseDesiredState(manifest, signer, limits);
  const selfTest = `the signed self-test takes ${kib(Buffer.byteLength(JSON.stringify(manifest.selfTest)))} of it (${manifest.selfTest.input.length} input values)`;
  const advice = 'upload a smaller self-test input (fewer values, or values written with fewer digits), or none';
  const broker = {
    over: size.packet > limits.maxMessageBytes,
    limit: limits.maxMessageBytes,
    why: `the signed desired state carrying this version would be an MQTT message of ${kib(size.packet)}, over the broker's limit of ${kib(limits.maxMessageBytes)} (MQTT_MAX_MESSAGE_BYTES, the broker's max_packet_size): no node could ever be sent it`,
  };
  const protocol = {
    over: size.payload > MAX_PAYLOAD_BYTES.desired,
    limit: MAX_PAYLOAD_BYTES.desired,
    why: `the signed desired state carrying this version would be ${kib(size.payload)}, over the ${kib(MAX_PAYLOAD_BYTES.desired)} nodes accept for a desired state (the protocol's bound): no node would ever take it`,
  };
  // Name the tighter of the limits exceeded: that is the size to get under.
  const exceeded = [broker, protocol].filter((l) => l.over).sort((a, b) => a.limit - b.limit)[0];
  if (exceeded) throw new UnprocessableError(`${exceeded.why}; ${selfTest}; ${advice}`);
}
