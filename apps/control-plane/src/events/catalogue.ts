/**
 * The event catalogue: every event the control plane stores, streams (SSE) and delivers (webhooks).
 * Nothing else names an event type; a new event is a new entry here, with its payload shape.
 */
export interface EventPayloads {
  'rollout.started': { readonly nodes: number; readonly waves: readonly number[]; readonly actor: string };
  'rollout.wave-advanced': { readonly wave: number; readonly nodes: number; readonly note?: string };
  'rollout.gate-verdict': { readonly wave: number; readonly verdict: 'pass' | 'wait' | 'fail'; readonly reason?: string };
  /**
   * A wave's shadow evaluation decided nodes: `activate` (passed) or `abandon` (`fail`: the gate failed the
   * candidate, cause `gate`; `none`: the rollout stopped before a verdict, cause `stopped`).
   */
  'rollout.shadow-verdict': {
    readonly wave: number;
    readonly verdict: 'pass' | 'fail' | 'none';
    readonly decision: 'activate' | 'abandon';
    readonly cause?: 'gate' | 'stopped';
    readonly nodes: number;
    readonly reason?: string;
    readonly figures?: Record<string, unknown>;
  };
  'rollout.halted': { readonly reason: string; readonly rollback: boolean; readonly actor: string };
  'rollout.aborted': { readonly reason: string; readonly rollback: boolean; readonly actor: string };
  'rollout.completed': Record<string, never>;
  'rollout.rolled-back': { readonly nodes: number; readonly deploymentId: string; readonly actor: string };
  'node.enrolled': { readonly name: string };
  'node.online': Record<string, never>;
  'node.offline': Record<string, never>;
  'node.committed': { readonly deploymentId: string };
  'node.failed': { readonly deploymentId: string; readonly state: 'failed' | 'rolled-back' | 'rejected'; readonly reason: string | null };
  'node.attestation-mismatch': { readonly verdict: 'mismatch' | 'invalid'; readonly loadedSha256: string; readonly assignedSha256: string | null };
  /** A node's drift score (PSI vs the serving version's reference statistics) crossed above DRIFT_EVENT_THRESHOLD. */
  'model.drift-detected': { readonly input: number; readonly confidence: number; readonly samples: number; readonly threshold: number };
  /** The installation moved to a newer root (a key rotated or revoked): once per root version. */
  'key.rotated': { readonly rootVersion: number; readonly revokedKeyIds: readonly string[] };
}

export type EventType = keyof EventPayloads;

/** Every type, for validating filters (a typed list: adding a payload without a name does not compile). */
export const EVENT_TYPES = [
  'rollout.started',
  'rollout.wave-advanced',
  'rollout.gate-verdict',
  'rollout.shadow-verdict',
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
  'model.drift-detected',
  'key.rotated',
] as const satisfies readonly EventType[];

// Both directions: a type in EventPayloads missing from EVENT_TYPES fails to compile here.
type Missing = Exclude<EventType, (typeof EVENT_TYPES)[number]>;
const everyTypeListed: Missing extends never ? true : Missing = true;
void everyTypeListed;

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/** What an event is about; each becomes an indexed column, so lists filter by them. */
export interface EventSubjects {
  readonly rolloutId?: string | null;
  readonly nodeId?: string | null;
  readonly modelVersionId?: string | null;
}

export interface NewEvent<T extends EventType = EventType> {
  readonly type: T;
  readonly subjects: EventSubjects;
  readonly payload: EventPayloads[T];
}

/** An event as it is listed, streamed and delivered. */
export interface EventView {
  readonly id: string;
  readonly type: string;
  readonly createdAt: string;
  readonly rolloutId: string | null;
  readonly nodeId: string | null;
  readonly modelVersionId: string | null;
  readonly payload: Record<string, unknown>;
}

/** Maps a rollout_events kind (the rollout's own history) to the catalogue event it stands for, if any. */
export function rolloutCatalogueEvent(kind: string, actor: string, detail: Record<string, unknown>): { type: EventType; payload: Record<string, unknown> } | null {
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const num = (v: unknown) => (typeof v === 'number' ? v : 0);
  switch (kind) {
    case 'running':
      // A resume (from paused) is not a start.
      return detail['from'] === 'paused' || detail['from'] === 'halted' ? null : { type: 'rollout.started', payload: { nodes: num(detail['nodes']), waves: Array.isArray(detail['waves']) ? detail['waves'] : [], actor } };
    case 'wave-started':
      return num(detail['wave']) > 1 ? { type: 'rollout.wave-advanced', payload: { wave: num(detail['wave']), nodes: num(detail['nodes']), ...(detail['note'] ? { note: str(detail['note']) } : {}) } } : null;
    case 'halted':
    case 'aborted':
      return { type: `rollout.${kind}`, payload: { reason: str(detail['reason']), rollback: detail['rollback'] === true, actor } };
    case 'completed':
      return { type: 'rollout.completed', payload: {} };
    case 'shadow-verdict':
      return {
        type: 'rollout.shadow-verdict',
        payload: {
          wave: num(detail['wave']),
          verdict: detail['verdict'] === 'pass' ? 'pass' : detail['verdict'] === 'none' ? 'none' : 'fail',
          decision: detail['decision'] === 'activate' ? 'activate' : 'abandon',
          ...(detail['cause'] === 'gate' || detail['cause'] === 'stopped' ? { cause: detail['cause'] } : {}),
          nodes: num(detail['nodes']),
          ...(detail['reason'] ? { reason: str(detail['reason']) } : {}),
          ...(typeof detail['figures'] === 'object' && detail['figures'] !== null ? { figures: detail['figures'] } : {}),
        },
      };
    case 'rollback-started':
      return { type: 'rollout.rolled-back', payload: { nodes: num(detail['nodes']), deploymentId: str(detail['deploymentId']), actor } };
    default:
      return null;
  }
}
