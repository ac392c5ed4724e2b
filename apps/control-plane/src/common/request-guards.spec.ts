import { describe, expect, it } from '@jest/globals';
import { jsonShapeViolation, MAX_JSON_DEPTH } from './request-guards.js';

const nested = (levels: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { a: value };
  return value;
};

describe('jsonShapeViolation', () => {
  it('accepts ordinary bodies and nesting up to the bound', () => {
    expect(jsonShapeViolation({ name: 'x', strategy: { waves: { percentages: [5, 25, 100] } } })).toBeUndefined();
    expect(jsonShapeViolation(nested(MAX_JSON_DEPTH))).toBeUndefined();
    expect(jsonShapeViolation(undefined)).toBeUndefined();
  });

  it('refuses one level more, and a nesting far deeper without overflowing its own stack', () => {
    expect(jsonShapeViolation(nested(MAX_JSON_DEPTH + 1))).toBe(`JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
    expect(jsonShapeViolation(nested(200_000))).toMatch(/deeper than/);
  });

  it('refuses NUL in strings and keys at any depth', () => {
    expect(jsonShapeViolation({ a: [{ b: 'x\u0000' }] })).toBe('strings must not contain NUL characters');
    expect(jsonShapeViolation({ a: { 'k\u0000': 1 } })).toBe('keys must not contain NUL characters');
  });
});
