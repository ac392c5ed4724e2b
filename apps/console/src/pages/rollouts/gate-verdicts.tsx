import type { Schemas } from '#api-client';
import type { Mark } from '../../components/line-chart.js';
import { formatTime } from '../../lib/format.js';

type FleetEvent = Schemas['EventDto'];

const VERDICT_COLOR: Record<string, string> = { pass: '#1a6b3c', wait: '#8a5a00', fail: '#a3172f' };

/** The verdicts' payload as the catalogue gives it (rollout.gate-verdict), read defensively: it is JSON from afar. */
export function readVerdict(e: FleetEvent): { wave: number | null; verdict: string; reason: string | null } {
  const p: Record<string, unknown> = e.payload;
  return {
    wave: typeof p['wave'] === 'number' ? p['wave'] : null,
    verdict: typeof p['verdict'] === 'string' ? p['verdict'] : 'unknown',
    reason: typeof p['reason'] === 'string' ? p['reason'].slice(0, 500) : null,
  };
}

/** Each verdict as a dashed line on the canary-vs-control charts, coloured as in the list. */
export const verdictMarks = (events: readonly FleetEvent[]): Mark[] =>
  events.map((e) => ({ at: Date.parse(e.createdAt) / 1000, color: VERDICT_COLOR[readVerdict(e).verdict] ?? '#4a5360' }));

/** The health gates' verdicts that decided something (a wave let through, a halt), newest first. */
export function GateVerdicts({ events }: { events: readonly FleetEvent[] }) {
  if (events.length === 0) return <p class="empty">No gate verdict yet.</p>;
  return (
    <ul class="gates" data-testid="gates">
      {[...events].reverse().map((e) => {
        const v = readVerdict(e);
        return (
          <li key={e.id} data-testid="gate-verdict">
            <time dateTime={e.createdAt}>{formatTime(e.createdAt)}</time> wave {v.wave ?? '?'}: <strong class={`verdict verdict-${v.verdict}`}>{v.verdict}</strong>
            {v.reason && <span class="detail"> {v.reason}</span>}
          </li>
        );
      })}
    </ul>
  );
}
