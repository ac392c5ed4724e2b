import type { Schemas } from '#api-client';
import { formatDetail, formatTime } from '../../lib/format.js';

/** The rollout's own log, newest first (gate verdicts are catalogue events: see gate-verdicts.tsx). */
export function RolloutTimeline({ events }: { events: readonly Schemas['RolloutEventDto'][] }) {
  const newest = [...events].reverse();
  return (
    <>
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
