import { describe, expect, it } from '@jest/globals';
import { toCsv } from './copy-rows.js';

describe('toCsv', () => {
  it('quotes strings, doubles quotes, keeps NULL apart from the empty string', () => {
    expect(toCsv([['a,b', 'say "hi"', '', null, 1.5, 42]])).toBe('"a,b","say ""hi""","",,1.5,42\n');
  });
  it('writes a non-finite number as NULL', () => {
    expect(toCsv([[Number.NaN]])).toBe('\n');
  });
});
