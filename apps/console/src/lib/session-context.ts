import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Session } from './session.js';

export const SessionContext = createContext<Session | null>(null);

/** The signed-in session; every page below the sign-in gate has one. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside the signed-in console');
  return session;
}
