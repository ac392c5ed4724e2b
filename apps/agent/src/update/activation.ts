import { nextWindowOpening, type RecurringWindow, windowOpen } from '#common';
import { delay } from './abort.js';

/**
 * Holds an update between self-test and activation until its maintenance window is open. The node keeps
 * serving the previous model meanwhile; a newer desired state aborts the apply and so ends the wait
 * (Superseded). After a restart the agent resumes the self-test step and arrives here again, so the wait
 * needs no state of its own.
 */
export async function waitForActivationWindow(
  window: RecurringWindow | undefined,
  options: { signal: AbortSignal; onWaiting: (opens: Date | null) => Promise<void>; pollMs?: number },
): Promise<void> {
  if (!window || windowOpen(window, new Date())) return;
  await options.onWaiting(nextWindowOpening(window, new Date()));
  while (!windowOpen(window, new Date())) await delay(options.pollMs ?? 500, options.signal);
}
