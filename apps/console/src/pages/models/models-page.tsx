import { unwrap } from '#api-client';
import { Link } from '../../components/link.js';
import { ProblemNote } from '../../components/problem.js';
import { formatTime } from '../../lib/format.js';
import { navigate } from '../../lib/router.js';
import { canMutate } from '../../lib/session.js';
import { useSession } from '../../lib/session-context.js';
import { useLoad } from '../../lib/use-load.js';
import { NewModelForm } from './new-model-form.js';

export function ModelsPage() {
  const { api, role } = useSession();
  const models = useLoad(async () => unwrap(await api.GET('/v1/models')), [api]);
  const mutates = canMutate(role);
  return (
    <section aria-labelledby="models-title">
      <h1 id="models-title">Models</h1>
      <ProblemNote error={models.error} />
      {models.data?.length === 0 && <p class="empty">No model yet{mutates ? ': create one below.' : '.'}</p>}
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
      {/* The next step after creating a model is uploading its first version, on the model's page. */}
      {mutates && <NewModelForm onCreated={(name) => navigate(`/models/${encodeURIComponent(name)}`)} />}
    </section>
  );
}
