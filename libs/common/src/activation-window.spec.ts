import { describe, expect, it } from '@jest/globals';
import { nextWindowOpening, windowOpen } from './activation-window.js';

describe('windowOpen', () => {
  const daily = { cron: '0 2 * * *', durationMinutes: 120, timezone: 'Europe/Berlin' };

  it('is open from each cron time for the duration, in the window’s time zone', () => {
    // 02:00 Berlin in winter is 01:00 UTC.
    expect(windowOpen(daily, new Date('2026-11-28T01:00:00Z'))).toBe(true);
    expect(windowOpen(daily, new Date('2026-11-28T02:59:59Z'))).toBe(true);
    expect(windowOpen(daily, new Date('2026-11-28T03:00:00Z'))).toBe(false);
    expect(windowOpen(daily, new Date('2026-11-28T00:59:00Z'))).toBe(false);
    expect(windowOpen(daily, new Date('2026-11-28T00:59:59.100Z'))).toBe(false); // not even a second early
  });

  it('is always open without a window', () => {
    expect(windowOpen(undefined, new Date())).toBe(true);
  });
});

describe('nextWindowOpening', () => {
  it('is the next cron time in the window’s time zone', () => {
    const daily = { cron: '0 2 * * *', durationMinutes: 120, timezone: 'Europe/Berlin' };
    expect(nextWindowOpening(daily, new Date('2026-11-28T12:00:00Z'))?.toISOString()).toBe('2026-11-29T01:00:00.000Z');
  });
});
