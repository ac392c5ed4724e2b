import { describe, expect, it } from '@jest/globals';
import { IsoTimeFormatter, MAX_WIRE_TIME_MS, MIN_WIRE_TIME_MS } from './iso-time.js';

describe('IsoTimeFormatter', () => {
  const expectSameAsDate = (formatter: IsoTimeFormatter, times: number[]) => {
    for (const ms of times) expect(formatter.format(ms)).toBe(new Date(ms).toISOString());
  };

  it('writes what toISOString writes for times in order, across seconds, minutes, days and years', () => {
    const start = Date.UTC(2026, 11, 31, 23, 58, 59, 990);
    expectSameAsDate(
      new IsoTimeFormatter(),
      Array.from({ length: 20_000 }, (_, i) => start + i * 7),
    );
  });

  it('writes what toISOString writes for times out of order, far apart or at the edges of the wire years', () => {
    const times = [
      Date.UTC(2026, 0, 1),
      Date.UTC(2026, 0, 1) - 1,
      Date.UTC(2026, 0, 1) + 59_999,
      Date.UTC(2026, 0, 1) + 60_000,
      0,
      -1,
      -60_001,
      MIN_WIRE_TIME_MS,
      MIN_WIRE_TIME_MS - 1,
      MAX_WIRE_TIME_MS - 1,
      MAX_WIRE_TIME_MS,
      Date.UTC(2026, 5, 15, 12, 30, 45, 5),
      Date.UTC(2026, 5, 15, 12, 30, 45, 5.7),
      Date.UTC(2026, 5, 15, 12, 30, 0, 0) + 0.5,
    ];
    const formatter = new IsoTimeFormatter();
    expectSameAsDate(formatter, [...times, ...times.reverse()]);
  });

  it('throws RangeError on an invalid time, as toISOString does', () => {
    const formatter = new IsoTimeFormatter();
    formatter.format(Date.UTC(2026, 0, 1));
    expect(() => formatter.format(Number.NaN)).toThrow(RangeError);
    expect(() => formatter.format(8.64e15 + 1)).toThrow(RangeError);
  });
});
