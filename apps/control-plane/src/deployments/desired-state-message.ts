import type { RecurringWindow } from '#common';
import { chunkCount, type DesiredStateMessage, encodeMessage, envelopeFields, type ResultsPolicy, type ShadowOrder } from '#protocol';
import type { DesiredState, Envelope, ModelManifest } from '#trust';

export interface DesiredStateInput {
  readonly nodeId: string;
  readonly deploymentId: string;
  readonly manifest: Envelope<ModelManifest>;
  readonly issued: Date;
  readonly expires: Date;
  readonly activationWindow?: RecurringWindow;
  /** Omitted for `all`: what an older control plane sent, so nodes see no change without a policy. */
  readonly resultsPolicy?: ResultsPolicy;
  /** Shadow evaluation before activation, with the control plane's decision for this node once made. */
  readonly shadow?: ShadowOrder;
}

export interface ArtifactLayout {
  readonly sha256: string;
  readonly size: number;
  readonly chunkSize: number;
}

/**
 * The desired-state message published (retained) to one node: the signed desired state and how to fetch
 * the artifact. One builder for publishing and for the upload-time size check, so both see the same bytes.
 */
export function encodeDesiredState(sign: (state: DesiredState) => Envelope<DesiredState>, input: DesiredStateInput, layout: ArtifactLayout): Buffer {
  const desired = sign({
    type: 'desired-state',
    nodeId: input.nodeId,
    deploymentId: input.deploymentId,
    manifest: input.manifest,
    issued: input.issued.toISOString(),
    expires: input.expires.toISOString(),
    ...(input.activationWindow ? { activationWindow: input.activationWindow } : {}),
    ...(input.resultsPolicy && input.resultsPolicy.mode !== 'all' ? { resultsPolicy: input.resultsPolicy } : {}),
    ...(input.shadow ? { shadow: input.shadow } : {}),
  });
  const message: DesiredStateMessage = {
    ...envelopeFields(input.issued),
    desired: { signed: { ...desired.signed }, signatures: [...desired.signatures] },
    artifact: { ...layout, chunkCount: chunkCount(layout.size, layout.chunkSize) },
  };
  return encodeMessage('desired', message);
}

/** Bytes of the variable-length "remaining length" field of an MQTT fixed header. */
const varintBytes = (n: number) => (n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4);

/**
 * Size of the MQTT 5 PUBLISH packet carrying `payloadBytes` on `topic` at QoS 1 with a message expiry
 * interval, as the broker's `max_packet_size` counts it: fixed header, topic, packet id, properties, payload.
 */
export function publishPacketBytes(topic: string, payloadBytes: number): number {
  const properties = 1 + 5; // property length + message expiry interval (identifier + four bytes)
  const remaining = 2 + Buffer.byteLength(topic) + 2 + properties + payloadBytes;
  return 1 + varintBytes(remaining) + remaining;
}
