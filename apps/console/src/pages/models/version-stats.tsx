import { type Schemas, unwrap } from '#api-client';
import { LineChart } from '../../components/line-chart.js';
import { ProblemNote } from '../../components/problem.js';
import { formatNumber } from '../../lib/format.js';
import { useSession } from '../../lib/session-context.js';
import { useLoad } from '../../lib/use-load.js';
import { Pairs } from '../../components/pairs.js';

const WINDOWS = ['1h', '24h', '7d'] as const;

function Totals({ total }: { total: Schemas['GroupStatsDto'] }) {
  const rows: [string, string][] = [
    ['Inferences', formatNumber(total.inferences)],
    ['Errors', `${total.errors} (${formatNumber(total.errorRate, 4)})`],
    ['Latency p50 / p90 / p99 (ms)', total.latencyMs ? [total.latencyMs.p50, total.latencyMs.p90, total.latencyMs.p99].map((v) => formatNumber(v, 2)).join(' / ') : '—'],
    // Over every inference the heartbeats reported, not only the results the results policy stored.
    ['Mean confidence', total.confidences > 0 ? `${formatNumber(total.meanConfidence, 3)} over ${formatNumber(total.confidences)} inferences` : '—'],
    ['Accuracy (feedback)', `${formatNumber(total.feedback.accuracy, 3)} of ${total.feedback.labelled} labelled`],
  ];
  return <Pairs rows={rows} />;
}

/** Stats of one version from the rollups (docs/model-health.md): totals, accuracy over time, confidence. */
export function VersionStats({ model, version, window }: { model: string; version: string; window: (typeof WINDOWS)[number] }) {
  const { api } = useSession();
  const stats = useLoad(
    async () => unwrap(await api.GET('/v1/models/{name}/versions/{version}/stats', { params: { path: { name: model, version }, query: { window } } })),
    [api, model, version, window],
  );
  if (!stats.data) return <ProblemNote error={stats.error} />;
  const s = stats.data;
  const accuracyX = s.accuracyOverTime.map((p) => Date.parse(p.from) / 1000);
  const confidenceX = s.total.confidence.map((b) => b.le);
  return (
    <div class="stats" aria-label={`Stats of ${model} ${version}`}>
      <Totals total={s.total} />
      <div class="charts">
        {accuracyX.length > 1 ? (
          <LineChart title="Accuracy over time" x={accuracyX} series={[{ label: 'accuracy', color: '#1a6b3c', values: s.accuracyOverTime.map((p) => p.accuracy) }]} />
        ) : (
          <p class="empty">Accuracy over time needs feedback in at least two steps of the window.</p>
        )}
        {s.total.confidence.some((b) => b.count > 0) && (
          <LineChart title="Top-class confidence (results per bucket)" time={false} x={confidenceX} series={[{ label: 'results', color: '#1f4e8c', values: s.total.confidence.map((b) => b.count) }]} />
        )}
      </div>
    </div>
  );
}

export { WINDOWS };
