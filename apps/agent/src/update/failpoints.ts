/**
 * Fault injection for crash-safety tests: `EDGEFLEET_FAILPOINTS=activate:pointer-flipped,...` makes the
 * agent kill itself with SIGKILL when it reaches a named point, exactly as a power cut would. Unset in
 * production; read once at start.
 */
const ACTIVE = new Set((process.env['EDGEFLEET_FAILPOINTS'] ?? '').split(',').filter(Boolean));

export const FAILPOINTS = [
  'download:chunk-written',
  'download:complete',
  'verify:done',
  'stage:copied',
  'stage:recorded',
  'self-test:done',
  'activate:pointer-flipped',
  'activate:swapped',
  'soak:passed',
  'commit:reported',
] as const;
/** Reached only by an encoded artifact (docs/protocol.md#artifact-encoding): apart, so the crash campaign's plain releases reach every point it picks. */
export const ENCODED_FAILPOINTS = ['verify:decoded'] as const;
export type Failpoint = (typeof FAILPOINTS)[number] | (typeof ENCODED_FAILPOINTS)[number];

export function failpoint(name: Failpoint): void {
  if (ACTIVE.has(name)) process.kill(process.pid, 'SIGKILL');
}
