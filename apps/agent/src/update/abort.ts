/** Thrown out of a step when a newer desired state replaced the one it works on: not a failure. */
export class Superseded extends Error {
  constructor() {
    super('a newer desired state replaced this one');
    this.name = 'Superseded';
  }
}

/** Throws Superseded when the apply was aborted (a newer desired state took over). */
export function throwIfSuperseded(signal: AbortSignal): void {
  if (signal.aborted) throw new Superseded();
}

/** Waits `ms`, or throws Superseded as soon as the apply is aborted. */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  throwIfSuperseded(signal);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Superseded());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
