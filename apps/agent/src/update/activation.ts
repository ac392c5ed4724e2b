import { nextWindowOpening, type RecurringWindow, windowOpen } from '#common';

/** Thrown out of a step when a newer desired state replaced the one it works on: not a failure. */
export class Superseded extends Error {
  constructor() {
    super('a newer desired state replaced this one');
    this.name = 'Superseded';
  }
}

/**
 * Holds an update between self-test and activation until its maintenance window is open. The node keeps
 * serving the previous model meanwhile; a newer desired state ends the wait (Superseded). After a restart
 * the agent resumes the self-test step and arrives here again, so the wait needs no state of its own.
 */
export async function waitForActivationWindow(
  window: RecurringWindow | undefined,
  options: { stillWanted: () => boolean; onWaiting: (opens: Date | null) => Promise<void>; pollMs?: number },
): Promise<void> {
  if (!window || windowOpen(window, new Date())) return;
  await options.onWaiting(nextWindowOpening(window, new Date()));
  while (!windowOpen(window, new Date())) {
    if (!options.stillWanted()) throw new Superseded();
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 500));
  }
}
