import { useState } from 'preact/hooks';
import { ProblemNote } from '../../components/problem.js';
import { MAX_KEY_LENGTH, type Session, signIn } from '../../lib/session.js';
import { asError } from '../../lib/use-load.js';

export function SignInPage({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await signIn(key.trim()));
    } catch (e) {
      setError(asError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <h1>EdgeFleet console</h1>
      <form onSubmit={submit}>
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autoComplete="off" required maxLength={MAX_KEY_LENGTH} value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        <p class="hint">Kept in this tab's session storage only. Create keys with the CLI or POST /v1/api-keys.</p>
        <button type="submit" disabled={busy || key.trim().length === 0}>
          Sign in
        </button>
      </form>
      <ProblemNote error={error} />
    </main>
  );
}
