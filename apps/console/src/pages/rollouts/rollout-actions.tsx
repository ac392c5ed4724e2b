import { type ApiClient, type Schemas, unwrap } from '#api-client';
import { useState } from 'preact/hooks';
import { ProblemNote } from '../../components/problem.js';
import { asError } from '../../lib/use-load.js';

type State = Schemas['RolloutDetailDto']['state'];
type Action = 'start' | 'approve' | 'pause' | 'resume' | 'abort' | 'rollback';

/** Which controls make sense in which state (docs/rollouts.md#how-it-runs); the API refuses the rest anyway. */
const ACTIONS: Record<State, Action[]> = {
  draft: ['start', 'abort'],
  scheduled: ['abort'],
  'awaiting-approval': ['approve', 'abort'],
  running: ['pause', 'abort'],
  paused: ['resume', 'abort'],
  halted: ['resume', 'abort', 'rollback'],
  completed: ['rollback'],
  aborted: ['rollback'],
  superseded: [],
};

// Ending or undoing a rollout cannot be taken back: ask first.
const CONFIRM: Partial<Record<Action, string>> = {
  abort: 'Abort this rollout for good?',
  rollback: 'Return the nodes this rollout reached to their previous version?',
};

async function run(api: ApiClient, id: string, action: Action): Promise<void> {
  const path = { params: { path: { id } } };
  switch (action) {
    case 'start':
      return void unwrap(await api.POST('/v1/rollouts/{id}/start', { ...path, body: {} }));
    case 'approve':
      return void unwrap(await api.POST('/v1/rollouts/{id}/approve', path));
    case 'pause':
      return void unwrap(await api.POST('/v1/rollouts/{id}/pause', path));
    case 'resume':
      return void unwrap(await api.POST('/v1/rollouts/{id}/resume', path));
    case 'abort':
      return void unwrap(await api.POST('/v1/rollouts/{id}/abort', { ...path, body: { reason: 'aborted from the console' } }));
    case 'rollback':
      return void unwrap(await api.POST('/v1/rollouts/{id}/rollback', { ...path, body: { reason: 'rolled back from the console' } }));
  }
}

export function RolloutActions({ api, id, state, onDone }: { api: ApiClient; id: string; state: State; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const click = async (action: Action) => {
    const question = CONFIRM[action];
    if (question && !confirm(question)) return;
    setBusy(true);
    setError(undefined);
    try {
      await run(api, id, action);
      onDone();
    } catch (e) {
      setError(asError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="actions" role="group" aria-label="Rollout actions">
      {ACTIONS[state].map((a) => (
        <button type="button" key={a} class={a === 'abort' || a === 'rollback' ? 'danger' : ''} disabled={busy} onClick={() => void click(a)}>
          {a[0]?.toUpperCase() + a.slice(1)}
        </button>
      ))}
      <ProblemNote error={error} />
    </div>
  );
}
