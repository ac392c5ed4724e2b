import type { Schemas } from '#api-client';
import { LineChart, type Mark } from '../../components/line-chart.js';
import { formatNumber } from '../../lib/format.js';
import { comparisons } from './canary-series.js';

const CANARY = '#c58400';
const CONTROL = '#1f4e8c';

const caption = (latest: { canary: number | null; control: number | null } | null) =>
  latest ? `Latest step: canary ${formatNumber(latest.canary, 4)} · control ${formatNumber(latest.control, 4)}` : 'No heartbeat in the window yet.';

/** What the health gates compare, step by step over the rollout's life, with each gate verdict marked. */
export function CanaryControlCharts({ series, marks }: { series: Schemas['RolloutStatsSeriesDto']; marks: readonly Mark[] }) {
  const { x, charts } = comparisons(series.points);
  return (
    <div class="charts" data-testid="canary-control-charts" aria-label={`Canary versus control, ${series.points.length} steps of ${Math.round(series.stepSeconds)} s`}>
      {charts.map((c) => (
        <LineChart
          key={c.title}
          title={c.title}
          x={x}
          marks={marks}
          caption={caption(c.latest)}
          series={[
            { label: 'canary', color: CANARY, values: c.canary },
            { label: 'control', color: CONTROL, values: c.control },
          ]}
        />
      ))}
    </div>
  );
}
