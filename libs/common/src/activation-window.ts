import { Cron } from 'croner';

/**
 * A recurring window (a maintenance window): it opens at each time the cron expression names, in the
 * IANA time zone, and stays open for `durationMinutes`. The control plane dispatches rollouts with it and
 * the agent waits for it before activating, so both read it the same way.
 */
export interface RecurringWindow {
  readonly cron: string;
  readonly durationMinutes: number;
  readonly timezone: string;
}

/** Whether `now` falls in a window that opened at the latest cron time and lasts `durationMinutes`. */
export function windowOpen(window: RecurringWindow | undefined, now: Date): boolean {
  if (!window) return true;
  const cron = new Cron(window.cron, { timezone: window.timezone, paused: true });
  // croner's previousRuns excludes the reference time itself: look from a second later, then keep the
  // latest opening that is not in the future.
  const opened = cron.previousRuns(2, new Date(now.getTime() + 1000)).find((run) => run.getTime() <= now.getTime());
  return opened !== undefined && now.getTime() < opened.getTime() + window.durationMinutes * 60_000;
}

/** When the window next opens after `now`, or null if it never does. */
export function nextWindowOpening(window: RecurringWindow, now: Date): Date | null {
  return new Cron(window.cron, { timezone: window.timezone, paused: true }).nextRun(now);
}
