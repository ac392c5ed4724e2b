/**
 * Fault injection for tests: `EDGEFLEET_DROP_BROADCAST_CHUNKS=0,5,6` makes the agent discard those chunk
 * indices when they come by broadcast, as a lossy link would; repairs (on its own topic) still arrive.
 * Unset in production; read once at start.
 */
const DROPPED = new Set(
  (process.env['EDGEFLEET_DROP_BROADCAST_CHUNKS'] ?? '')
    .split(',')
    .filter(Boolean)
    .map(Number),
);

export const dropsBroadcastChunk = (index: number): boolean => DROPPED.has(index);
