/** The catalogue's event types, as the control plane names them (apps/control-plane/src/events/catalogue.ts). */
export const EVENT_TYPES: readonly string[] = [
  'rollout.started',
  'rollout.wave-advanced',
  'rollout.gate-verdict',
  'rollout.halted',
  'rollout.aborted',
  'rollout.completed',
  'rollout.rolled-back',
  'node.enrolled',
  'node.online',
  'node.offline',
  'node.committed',
  'node.failed',
  'node.attestation-mismatch',
  'key.rotated',
];
