import type { Schemas } from '#api-client';
import { formatNumber } from '../../lib/format.js';

type Side = Schemas['RolloutSideDto'];

const ROWS: { label: string; value: (s: Side) => number | null }[] = [
  { label: 'Nodes', value: (s) => s.nodes },
  { label: 'Inferences', value: (s) => s.inferences },
  { label: 'Error rate', value: (s) => s.errorRate },
  { label: 'p99 latency (ms)', value: (s) => s.latencyP99Ms },
  { label: 'Mean confidence', value: (s) => s.meanConfidence },
];

/** What the health gates compare, side by side, each pair drawn as two bars scaled to the larger. */
export function CanaryControl({ stats }: { stats: Schemas['RolloutStatsDto'] }) {
  return (
    <table class="grid compare" aria-label={`Canary versus control over the last ${stats.windowSeconds} s`}>
      <thead>
        <tr>
          <th scope="col">Over {stats.windowSeconds} s</th>
          <th scope="col">Canary</th>
          <th scope="col">Control</th>
        </tr>
      </thead>
      <tbody>
        {ROWS.map((r) => {
          const canary = r.value(stats.canary);
          const control = r.value(stats.control);
          const top = Math.max(canary ?? 0, control ?? 0) || 1;
          return (
            <tr key={r.label}>
              <th scope="row">{r.label}</th>
              {[canary, control].map((v, i) => (
                <td key={i}>
                  <span class={`bar ${i === 0 ? 'canary' : 'control'}`} style={{ width: `${Math.round(((v ?? 0) / top) * 100)}%` }} />
                  {formatNumber(v, 4)}
                </td>
              ))}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
