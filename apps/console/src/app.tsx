import { useEffect, useState } from 'preact/hooks';
import { Nav } from './components/nav.js';
import { forgetKey, type Session, signIn, storedKey, storeKey } from './lib/session.js';
import { SessionContext } from './lib/session-context.js';
import { Routes } from './routes.js';
import { SignInPage } from './pages/sign-in/sign-in-page.js';

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [restoring, setRestoring] = useState(() => storedKey() !== null);
  useEffect(() => {
    const key = storedKey();
    if (!key) return;
    signIn(key).then(setSession, () => forgetKey()).finally(() => setRestoring(false));
  }, []);
  const signOut = () => {
    forgetKey();
    setSession(null);
  };
  if (restoring) return <p class="loading">Signing in…</p>;
  if (!session)
    return (
      <SignInPage
        onSignedIn={(s) => {
          storeKey(s.apiKey);
          setSession(s);
        }}
      />
    );
  return (
    <SessionContext.Provider value={session}>
      <Nav session={session} onSignOut={signOut} />
      <main id="main" tabIndex={-1}>
        <Routes />
      </main>
    </SessionContext.Provider>
  );
}
