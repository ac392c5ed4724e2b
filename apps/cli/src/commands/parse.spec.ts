import { describe, expect, it } from '@jest/globals';
import { InvalidArgumentError } from 'commander';
import { resultsPolicy } from './parse.js';

describe('--results', () => {
  it.each([
    ['all', { mode: 'all' }],
    ['aggregates', { mode: 'aggregates' }],
    ['sample:0.1', { mode: 'sample', rate: 0.1 }],
    ['sample:1', { mode: 'sample', rate: 1 }],
  ])('reads %s', (value, policy) => expect(resultsPolicy(value)).toEqual(policy));

  it.each(['', 'sample', 'sample:', 'sample:0', 'sample:1.5', 'sample:-0.1', 'sample:NaN', 'none', 'SAMPLE:0.5'])('refuses %p', (value) => {
    expect(() => resultsPolicy(value)).toThrow(InvalidArgumentError);
  });
});
