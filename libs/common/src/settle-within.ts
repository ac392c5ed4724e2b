/**
 * Waits for `work` at most `ms`: 'done' when it resolved in time, 'late' when it had not (it goes on in
 * the background; a later rejection is handed to `onLateError`, never left unhandled), and rejects
 * when it failed in time. For a side step whose effect something else guarantees anyway, so a request
 * need not hang on it while a dependency is away.
 */
export async function settleWithin(work: Promise<unknown>, ms: number, onLateError: (error: unknown) => void): Promise<'done' | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  let late = false;
  const guarded = work.then(
    () => 'done' as const,
    (error: unknown) => {
      if (late) return void onLateError(error);
      throw error;
    },
  );
  const timeout = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => {
      late = true;
      resolve('late');
    }, ms);
  });
  try {
    return (await Promise.race([guarded, timeout])) ?? 'late';
  } finally {
    clearTimeout(timer);
  }
}
