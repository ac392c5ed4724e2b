import { describe, expect, it } from '@jest/globals';
import { ValidationError } from '#common';
import { labelProblems, matchesSelector, parseLabelSelector, selectorToSql } from './label-selector.js';

describe('parseLabelSelector', () => {
  it.each([
    ['', []],
    ['env=prod', [{ key: 'env', op: 'eq', value: 'prod' }]],
    ['env==prod', [{ key: 'env', op: 'eq', value: 'prod' }]],
    ['env != prod', [{ key: 'env', op: 'neq', value: 'prod' }]],
    ['tier in (a, b)', [{ key: 'tier', op: 'in', values: ['a', 'b'] }]],
    ['tier notin (a)', [{ key: 'tier', op: 'not-in', values: ['a'] }]],
    ['gpu', [{ key: 'gpu', op: 'exists' }]],
    ['!gpu', [{ key: 'gpu', op: 'not-exists' }]],
    ['edgefleet.io/site=lyon,tier in (a,b),!gpu', [
      { key: 'edgefleet.io/site', op: 'eq', value: 'lyon' },
      { key: 'tier', op: 'in', values: ['a', 'b'] },
      { key: 'gpu', op: 'not-exists' },
    ]],
  ])('parses %j', (selector, expected) => {
    expect(parseLabelSelector(selector)).toEqual(expected);
  });

  it.each(['=prod', 'env=pr od', 'env in a,b', 'env in ()', 'env=prod,', 'bad key=1', 'env=' + 'x'.repeat(64), "env='; drop"])(
    'rejects %j with a ValidationError',
    (selector) => {
      expect(() => parseLabelSelector(selector)).toThrow(ValidationError);
    },
  );
});

describe('matchesSelector', () => {
  const labels = { env: 'prod', tier: 'a' };
  it.each([
    ['env=prod', true],
    ['env=dev', false],
    ['env!=dev', true],
    ['site!=lyon', true],
    ['tier in (a,b)', true],
    ['tier notin (a,b)', false],
    ['site notin (a)', true],
    ['site in (a)', false],
    ['env', true],
    ['!env', false],
    ['env=prod,tier=b', false],
  ])('%s → %s', (selector, expected) => {
    expect(matchesSelector(labels, parseLabelSelector(selector))).toBe(expected);
  });
});

describe('selectorToSql', () => {
  it('uses index-friendly jsonb operators with bound parameters only', () => {
    const { sql, params } = selectorToSql(parseLabelSelector('env=prod,tier in (a,b),!gpu'), 'n.labels');
    expect(sql).toBe(
      'n.labels @> CAST(:sel0 AS jsonb) AND n.labels @> ANY(CAST(:sel1 AS jsonb[])) AND NOT (n.labels ? :sel2)',
    );
    expect(params).toEqual({ sel0: '{"env":"prod"}', sel1: ['{"tier":"a"}', '{"tier":"b"}'], sel2: 'gpu' });
  });

  it('matches everything when empty', () => {
    expect(selectorToSql([], 'labels')).toEqual({ sql: 'TRUE', params: {} });
  });
});

describe('labelProblems', () => {
  it('accepts well-formed labels and names the bad ones', () => {
    expect(labelProblems({ env: 'prod', 'edgefleet.io/site': 'lyon-1' })).toEqual([]);
    expect(labelProblems({ 'bad key': 'x', env: 'a b', n: 3 })).toEqual([
      "invalid label key 'bad key'",
      "invalid value for label 'env'",
      "invalid value for label 'n'",
    ]);
  });
});
