import { Cron } from 'croner';
import type { RolloutStrategy } from './strategy.js';

type Window = NonNullable<RolloutStrategy['maintenanceWindow']>;

/** Whether `now` falls in a window that opened at the latest cron time and lasts `durationMinutes`. */
export function windowOpen(window: Window | undefined, now: Date): boolean {
  if (!window) return true;
  const cron = new Cron(window.cron, { timezone: window.timezone, paused: true });
  // The window that matters opened at the last cron time at or before now (croner's previousRuns is
  // exclusive of the reference, so look from a second later).
  const [opened] = cron.previousRuns(1, new Date(now.getTime() + 1000));
  return opened !== undefined && now.getTime() < opened.getTime() + window.durationMinutes * 60_000;
}

/** When the window next opens after `now` (for scheduling the next look), or null if never. */
export function nextWindowOpening(window: Window, now: Date): Date | null {
  return new Cron(window.cron, { timezone: window.timezone, paused: true }).nextRun(now);
}
