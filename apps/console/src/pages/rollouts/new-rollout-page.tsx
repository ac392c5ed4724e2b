import { type Schemas, unwrap } from '#api-client';
import { useState } from 'preact/hooks';
import { ProblemNote } from '../../components/problem.js';
import { navigate } from '../../lib/router.js';
import { canMutate } from '../../lib/session.js';
import { useSession } from '../../lib/session-context.js';
import { asError, useLoad } from '../../lib/use-load.js';
import { DryRunView } from './dry-run-view.js';
import { EMPTY_FORM, type RolloutFormFields, toCreateBody } from './rollout-form.js';
import { VariantRules } from './variant-rules.js';

type Field = Exclude<keyof RolloutFormFields, 'variants'>;

/** Create a rollout: the dry run must be seen (for exactly these fields) before the rollout can start. */
export function NewRolloutPage() {
  const { api, role } = useSession();
  const [form, setForm] = useState<RolloutFormFields>(EMPTY_FORM);
  const [plan, setPlan] = useState<{ for: string; plan: Schemas['RolloutPlanDto'] }>();
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const versions = useLoad(async () => {
    const models = unwrap(await api.GET('/v1/models'));
    const lists = await Promise.all(models.map(async (m) => unwrap(await api.GET('/v1/models/{name}/versions', { params: { path: { name: m.name } } }))));
    return lists.flat();
  }, [api]);
  if (!canMutate(role)) return <p>Your role ({role}) cannot create rollouts.</p>;
  const set = (field: Field, value: string | boolean) => setForm({ ...form, [field]: value });
  const formKey = JSON.stringify(form);
  const act = async (step: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await step();
    } catch (e) {
      setError(asError(e));
    } finally {
      setBusy(false);
    }
  };
  const dryRun = () => act(async () => setPlan({ for: formKey, plan: unwrap(await api.POST('/v1/rollouts/dry-run', { body: toCreateBody(form) })) }));
  const start = () =>
    act(async () => {
      const created = unwrap(await api.POST('/v1/rollouts', { body: toCreateBody(form) }));
      unwrap(await api.POST('/v1/rollouts/{id}/start', { params: { path: { id: created.id } }, body: {} }));
      navigate(`/rollouts/${created.id}`);
    });
  const text = (field: Field, label: string, hint?: string) => (
    <div class="field">
      <label for={`f-${field}`}>{label}</label>
      <input id={`f-${field}`} value={String(form[field])} maxLength={2000} onInput={(e) => set(field, e.currentTarget.value)} aria-describedby={hint ? `h-${field}` : undefined} />
      {hint && <small id={`h-${field}`}>{hint}</small>}
    </div>
  );
  const check = (field: Field, label: string) => (
    <div class="field check">
      <input id={`f-${field}`} type="checkbox" checked={Boolean(form[field])} onChange={(e) => set(field, e.currentTarget.checked)} />
      <label for={`f-${field}`}>{label}</label>
    </div>
  );
  return (
    <section aria-labelledby="new-rollout-title">
      <h1 id="new-rollout-title">New rollout</h1>
      <form class="form" onSubmit={(e) => (e.preventDefault(), void dryRun())}>
        {text('name', 'Name')}
        <VariantRules rules={form.variants} versions={versions.data ?? []} onChange={(variants) => setForm({ ...form, variants })} />
        {text('selector', 'Label selector', 'Which nodes the rollout targets. Empty: every active node')}
        {text('percentages', 'Waves (cumulative %)', 'e.g. 10, 50, 100')}
        {text('failureCount', 'Failures before halting')}
        {text('nodeTimeoutSeconds', 'Node timeout (s)')}
        {text('bakeSeconds', 'Bake between waves (s)')}
        {check('requireApproval', 'Require approval before the first wave')}
        {check('rollbackOnHalt', 'Roll back on halt')}
        <div class="actions">
          <button type="submit" disabled={busy}>
            Dry run
          </button>
          <button type="button" disabled={busy || plan?.for !== formKey} onClick={() => void start()}>
            Create and start
          </button>
        </div>
      </form>
      <ProblemNote error={error ?? versions.error} />
      {plan?.for === formKey && <DryRunView plan={plan.plan} />}
    </section>
  );
}
