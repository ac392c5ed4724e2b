/** Epoch milliseconds of 0001-01-01T00:00:00.000Z and 10000-01-01T00:00:00.000Z: the years a `timestamptz` and the wire take. */
export const MIN_WIRE_TIME_MS = -62_135_596_800_000;
export const MAX_WIRE_TIME_MS = 253_402_300_800_000;

const MINUTE_MS = 60_000;

/**
 * `new Date(ms).toISOString()`, keeping the text up to the minute: V8 formats each date through
 * snprintf (about 8,000 instructions a call under callgrind), and the agent stamps every served
 * inference's result. While the times stay within the cached minute only seconds and milliseconds are
 * written. Exact because JavaScript time has no leap seconds (every UTC minute is 60,000 ms) and whole
 * milliseconds only are cached; anything else goes to `toISOString` (which throws RangeError on an
 * invalid time, as before).
 */
export class IsoTimeFormatter {
  private minuteStart = Number.NaN;
  /** `YYYY-MM-DDTHH:MM:` of the minute starting at `minuteStart`. */
  private prefix = '';

  format(ms: number): string {
    const offset = ms - this.minuteStart; // NaN until a minute is cached, or for a NaN time
    if (offset >= 0 && offset < MINUTE_MS && Number.isInteger(offset)) {
      const seconds = Math.floor(offset / 1000);
      const millis = offset - seconds * 1000;
      return `${this.prefix}${seconds < 10 ? '0' : ''}${seconds}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
    }
    const text = new Date(ms).toISOString();
    // Four-digit years only (`toISOString` writes others as ±YYYYYY, 27 characters).
    if (Number.isInteger(ms) && text.length === 24) {
      this.minuteStart = ms - (((ms % MINUTE_MS) + MINUTE_MS) % MINUTE_MS);
      this.prefix = text.slice(0, 17);
    }
    return text;
  }
}
