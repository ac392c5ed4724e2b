import { unwrap } from '#api-client';
import { Link } from '../../components/link.js';
import { ProblemNote } from '../../components/problem.js';
import { formatTime } from '../../lib/format.js';
import { canMutate } from '../../lib/session.js';
import { useSession } from '../../lib/session-context.js';
import { LiveBadge, useLiveReload } from '../../lib/use-live.js';
import { useLoad } from '../../lib/use-load.js';
import { CanaryControl } from './canary-control.js';
import { CanaryControlCharts } from './canary-control-charts.js';
import { chartWindowSeconds } from './canary-series.js';
import { GateVerdicts, verdictMarks } from './gate-verdicts.js';
import { RolloutActions } from './rollout-actions.js';
import { RolloutTimeline } from './rollout-timeline.js';
import { ShadowFigures, useShadowRefresh } from './shadow-figures.js';
import { PhaseCounts, WaveBars } from './wave-bars.js';

/** The gates' window from the strategy (JSON from the API, read defensively); the API's default without gates. */
function gateWindowOf(strategy: Record<string, unknown> | undefined): number {
  const gates = strategy?.['healthGates'];
  const seconds = typeof gates === 'object' && gates !== null ? (gates as Record<string, unknown>)['windowSeconds'] : undefined;
  return typeof seconds === 'number' && Number.isInteger(seconds) && seconds >= 1 && seconds <= 86_400 ? seconds : 300;
}

/** One rollout, kept current by its own events on the SSE stream (no polling). */
export function RolloutPage({ id }: { id: string }) {
  const { api, role } = useSession();
  const path = { params: { path: { id } } };
  const detail = useLoad(async () => unwrap(await api.GET('/v1/rollouts/{id}', path)), [api, id]);
  const nodes = useLoad(async () => unwrap(await api.GET('/v1/rollouts/{id}/nodes', { params: { path: { id }, query: { limit: 1000 } } })), [api, id]);
  const stats = useLoad(async () => unwrap(await api.GET('/v1/rollouts/{id}/stats', path)), [api, id]);
  const startedAt = detail.data?.startedAt ?? null;
  const gateWindow = gateWindowOf(detail.data?.strategy);
  // The window follows the rollout's life: each (re)load, triggered by the rollout's events, charts it up to now.
  const series = useLoad(
    async () => unwrap(await api.GET('/v1/rollouts/{id}/stats/series', { params: { path: { id }, query: { windowSeconds: chartWindowSeconds(startedAt, gateWindow), steps: 12 } } })),
    [api, id, startedAt, gateWindow],
  );
  const verdicts = useLoad(async () => unwrap(await api.GET('/v1/events', { params: { query: { rollout: id, type: ['rollout.gate-verdict'], limit: 1000 } } })).items, [api, id]);
  const reload = () => {
    detail.reload();
    nodes.reload();
    stats.reload();
    series.reload();
    verdicts.reload();
  };
  const live = useLiveReload({ rollout: id }, reload);
  useShadowRefresh(detail.data?.waves, detail.data?.state, detail.reload);
  const r = detail.data;
  if (!r) return <ProblemNote error={detail.error} />;
  return (
    <section aria-labelledby="rollout-title">
      <p>
        <Link href="/rollouts">← Rollouts</Link> · <Link href={`/events?rollout=${id}`}>Events of this rollout</Link>
      </p>
      <h1 id="rollout-title">
        {r.name} <LiveBadge live={live} />
      </h1>
      <p>
        State:{' '}
        <strong class={`state state-${r.state}`} data-testid="rollout-state">
          {r.state}
        </strong>{' '}
        · wave {r.currentWave} of {r.waves.length} · selector <code>{r.selector || '(every node)'}</code> · created by {r.createdBy} {formatTime(r.createdAt)}
      </p>
      {r.haltReason && (
        <p class="halt" role="alert" data-testid="halt-reason">
          <strong>Halted:</strong> {r.haltReason}
        </p>
      )}
      {canMutate(role) && <RolloutActions api={api} id={id} state={r.state} onDone={reload} />}
      <ProblemNote error={detail.error ?? nodes.error} />
      <h2>Waves</h2>
      <WaveBars waves={r.waves} current={r.currentWave} />
      {nodes.data && <PhaseCounts nodes={nodes.data} />}
      {r.waves.some((w) => w.shadow) && (
        <>
          <h2>Shadow evaluation</h2>
          <ShadowFigures waves={r.waves} />
        </>
      )}
      {nodes.data?.some((n) => n.failure) && (
        <>
          <h2>Failures</h2>
          <ul class="failures">
            {nodes.data
              .filter((n) => n.failure)
              .map((n) => (
                <li key={n.nodeId}>
                  <Link href={`/nodes/${n.nodeId}`}>{n.nodeName}</Link>: {n.failure?.reason ?? 'failed'} {n.failure?.detail ?? ''}
                </li>
              ))}
          </ul>
        </>
      )}
      <h2>Canary vs control</h2>
      {stats.data ? <CanaryControl stats={stats.data} /> : <ProblemNote error={stats.error} />}
      {series.data ? <CanaryControlCharts series={series.data} marks={verdictMarks(verdicts.data ?? [])} /> : <ProblemNote error={series.error} />}
      <h2>Gate verdicts</h2>
      {verdicts.data ? <GateVerdicts events={verdicts.data} /> : <ProblemNote error={verdicts.error} />}
      <RolloutTimeline events={r.events} />
    </section>
  );
}
