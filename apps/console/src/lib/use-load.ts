import { ApiProblemError } from '#api-client';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: Error | undefined;
  readonly loading: boolean;
  /** Loads again (after a live event or a mutation); the previous data stays on screen meanwhile. */
  readonly reload: () => void;
}

/** Loads `load()` whenever `deps` change; a stale answer (deps changed since) is dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const generation = useRef(0);
  const run = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => mine === generation.current && setState({ data, loading: false }),
      (error: unknown) => mine === generation.current && setState((s) => ({ ...s, error: asError(error), loading: false })),
    );
  }, deps);
  useEffect(run, [run]);
  return { data: state.data, error: state.error, loading: state.loading, reload: run };
}

export const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error), { cause: error }));

export const isUnauthorized = (error: unknown): boolean => error instanceof ApiProblemError && error.status === 401;
