import { unwrap } from '#api-client';
import { Link } from '../../components/link.js';
import { ProblemNote } from '../../components/problem.js';
import { formatTime } from '../../lib/format.js';
import { useSession } from '../../lib/session-context.js';
import { useLoad } from '../../lib/use-load.js';

export function ModelsPage() {
  const { api } = useSession();
  const models = useLoad(async () => unwrap(await api.GET('/v1/models')), [api]);
  return (
    <section aria-labelledby="models-title">
      <h1 id="models-title">Models</h1>
      <ProblemNote error={models.error} />
      {models.data?.length === 0 && <p class="empty">No model yet (create one with the CLI: edgefleet models create).</p>}
      <ul class="cards">
        {models.data?.map((m) => (
          <li key={m.id} class="card">
            <Link href={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link>
            <span>{m.task}</span>
            <span>{m.description}</span>
            <small>created {formatTime(m.createdAt)}</small>
          </li>
        ))}
      </ul>
    </section>
  );
}
