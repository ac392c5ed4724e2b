import type { Schemas } from '#api-client';
import { formatDetail, formatTime } from '../../lib/format.js';

const isGate = (e: Schemas['RolloutEventDto']) => e.kind.includes('gate') || 'verdict' in e.detail;

/** The rollout's own log, newest first; gate verdicts get their own list as well. */
export function RolloutTimeline({ events }: { events: readonly Schemas['RolloutEventDto'][] }) {
  const newest = [...events].reverse();
  const gates = newest.filter(isGate);
  return (
    <>
      <h2>Gate verdicts</h2>
      {gates.length === 0 ? (
        <p class="empty">No gate verdict yet.</p>
      ) : (
        <ul class="gates" data-testid="gates">
          {gates.map((g) => (
            <li key={g.id}>
              <time dateTime={g.at}>{formatTime(g.at)}</time> {formatDetail(g.detail)}
            </li>
          ))}
        </ul>
      )}
      <h2>Timeline</h2>
      <ol class="timeline" data-testid="timeline">
        {newest.map((e) => (
          <li key={e.id}>
            <time dateTime={e.at}>{formatTime(e.at)}</time> <strong>{e.kind}</strong> <span class="actor">{e.actor}</span> <span class="detail">{formatDetail(e.detail)}</span>
          </li>
        ))}
      </ol>
    </>
  );
}
