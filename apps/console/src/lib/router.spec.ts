import { describe, expect, it } from '@jest/globals';
import { isWellFormedPath, match } from './router.js';

describe('match (path → route params)', () => {
  it('decodes a parameter', () => {
    expect(match('/models/:name', '/models/digits%20v2')).toEqual({ name: 'digits v2' });
  });

  it('does not match, rather than throw, when a parameter has a malformed %-escape', () => {
    expect(match('/models/:name', '/models/%E0%A4%A')).toBeNull();
  });
});

describe('isWellFormedPath', () => {
  it.each([
    ['/models/digits', true],
    ['/models/%E0%A4%A8', true],
    ['/models/%E0%A4%A', false],
    ['/%', false],
  ])('%s → %s', (path, expected) => expect(isWellFormedPath(path)).toBe(expected));
});
