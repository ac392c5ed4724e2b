import { ValidationError } from '#common';
import { parseGroupBy, parseWindow } from './stats-query.js';

describe('stats query', () => {
  it('parses windows in minutes, hours and days up to 30 days', () => {
    expect(parseWindow()).toBe(3600);
    expect(parseWindow('15m')).toBe(900);
    expect(parseWindow('6h')).toBe(21_600);
    expect(parseWindow('30d')).toBe(2_592_000);
    for (const bad of ['0m', '31d', '1s', '1.5h', 'h', '', '-1h', '1000000m', '1h\u0000']) expect(() => parseWindow(bad)).toThrow(ValidationError);
  });

  it('groups by node or by a valid label key', () => {
    expect(parseGroupBy(undefined)).toEqual({ kind: 'none' });
    expect(parseGroupBy('node')).toEqual({ kind: 'node' });
    expect(parseGroupBy('label:site')).toEqual({ kind: 'label', key: 'site' });
    expect(parseGroupBy('label:example.com/zone')).toEqual({ kind: 'label', key: 'example.com/zone' });
    for (const bad of ['zone', 'label:', 'label:bad key', 'nodes']) expect(() => parseGroupBy(bad)).toThrow(ValidationError);
  });
});
