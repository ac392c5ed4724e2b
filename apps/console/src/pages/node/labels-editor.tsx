import { type ApiClient, unwrap } from '#api-client';
import { useState } from 'preact/hooks';
import { ProblemNote } from '../../components/problem.js';
import { asError } from '../../lib/use-load.js';

/** Labels as `key=value` lines; saving sends a merge patch (removed keys as null), the API validates them. */
export function LabelsEditor({ api, nodeId, labels, editable, onSaved }: { api: ApiClient; nodeId: string; labels: Record<string, string>; editable: boolean; onSaved: () => void }) {
  const text = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  const [draft, setDraft] = useState(text);
  const [error, setError] = useState<Error>();
  const save = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      const next: Record<string, string | null> = {};
      for (const line of draft.split('\n').map((l) => l.trim()).filter(Boolean)) {
        const at = line.indexOf('=');
        if (at <= 0) throw new Error(`"${line.slice(0, 80)}" is not key=value`);
        next[line.slice(0, at).trim()] = line.slice(at + 1).trim();
      }
      for (const key of Object.keys(labels)) if (!(key in next)) next[key] = null;
      unwrap(await api.PATCH('/v1/nodes/{id}', { params: { path: { id: nodeId } }, body: { labels: next } }));
      onSaved();
    } catch (e) {
      setError(asError(e));
    }
  };
  if (!editable) return <pre class="labels">{text || '(no labels)'}</pre>;
  return (
    <form class="form" onSubmit={save}>
      <label for="labels">Labels (one key=value per line)</label>
      <textarea id="labels" rows={4} maxLength={8000} value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
      <button type="submit" disabled={draft === text}>
        Save labels
      </button>
      <ProblemNote error={error} />
    </form>
  );
}
