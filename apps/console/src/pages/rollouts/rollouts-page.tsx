import { unwrap } from '#api-client';
import { Link } from '../../components/link.js';
import { ProblemNote } from '../../components/problem.js';
import { formatTime } from '../../lib/format.js';
import { canMutate } from '../../lib/session.js';
import { useSession } from '../../lib/session-context.js';
import { LiveBadge, useLiveReload } from '../../lib/use-live.js';
import { useLoad } from '../../lib/use-load.js';

const ROLLOUT_EVENTS = ['rollout.started', 'rollout.wave-advanced', 'rollout.halted', 'rollout.aborted', 'rollout.completed', 'rollout.rolled-back'];

export function RolloutsPage() {
  const { api, role } = useSession();
  const rollouts = useLoad(async () => unwrap(await api.GET('/v1/rollouts', { params: { query: { limit: 100 } } })), [api]);
  const live = useLiveReload({ types: ROLLOUT_EVENTS }, () => rollouts.reload());
  return (
    <section aria-labelledby="rollouts-title">
      <h1 id="rollouts-title">
        Rollouts <LiveBadge live={live} />
      </h1>
      {canMutate(role) && (
        <p>
          <Link href="/rollouts/new" class="button">
            New rollout
          </Link>
        </p>
      )}
      <ProblemNote error={rollouts.error} />
      {rollouts.data?.length === 0 && <p class="empty">No rollout yet.</p>}
      {rollouts.data && rollouts.data.length > 0 && (
        <table class="grid" aria-label="Rollouts">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">State</th>
              <th scope="col">Selector</th>
              <th scope="col">Waves</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {rollouts.data.map((r) => (
              <tr key={r.id}>
                <td>
                  <Link href={`/rollouts/${r.id}`}>{r.name}</Link>
                </td>
                <td>
                  <span class={`state state-${r.state}`}>{r.state}</span>
                </td>
                <td>{r.selector || '(every node)'}</td>
                <td>{r.waveSizes.join(' / ') || '—'}</td>
                <td>{formatTime(r.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
