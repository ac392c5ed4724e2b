import { unwrap } from '#api-client';
import { Link } from '../../components/link.js';
import { ProblemNote } from '../../components/problem.js';
import { formatTime } from '../../lib/format.js';
import { canMutate } from '../../lib/session.js';
import { useSession } from '../../lib/session-context.js';
import { LiveBadge, useLiveReload } from '../../lib/use-live.js';
import { useLoad } from '../../lib/use-load.js';
import { CanaryControl } from './canary-control.js';
import { RolloutActions } from './rollout-actions.js';
import { RolloutTimeline } from './rollout-timeline.js';
import { PhaseCounts, WaveBars } from './wave-bars.js';

/** One rollout, kept current by its own events on the SSE stream (no polling). */
export function RolloutPage({ id }: { id: string }) {
  const { api, role } = useSession();
  const path = { params: { path: { id } } };
  const detail = useLoad(async () => unwrap(await api.GET('/v1/rollouts/{id}', path)), [api, id]);
  const nodes = useLoad(async () => unwrap(await api.GET('/v1/rollouts/{id}/nodes', { params: { path: { id }, query: { limit: 1000 } } })), [api, id]);
  const stats = useLoad(async () => unwrap(await api.GET('/v1/rollouts/{id}/stats', path)), [api, id]);
  const reload = () => {
    detail.reload();
    nodes.reload();
    stats.reload();
  };
  const live = useLiveReload({ rollout: id }, reload);
  const r = detail.data;
  if (!r) return <ProblemNote error={detail.error} />;
  return (
    <section aria-labelledby="rollout-title">
      <p>
        <Link href="/rollouts">← Rollouts</Link>
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
      <RolloutTimeline events={r.events} />
    </section>
  );
}
