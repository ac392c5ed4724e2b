import { describe, expect, it } from '@jest/globals';
import { compareReleaseVersions, isReleaseVersion } from './release-version.js';

describe('isReleaseVersion', () => {
  it.each(['1.0.0', '0.0.1', '1.2.3-rc.1', '1.2.3+build.5', `${Number.MAX_SAFE_INTEGER}.0.0`])('accepts %s', (v) => {
    expect(isReleaseVersion(v)).toBe(true);
  });

  it.each([
    ['a major beyond a safe integer', '99999999999999999999.0.0'],
    ['a patch beyond a safe integer', '1.0.9007199254740992'],
    ['a non-canonical form semver would rewrite', 'v1.0.0'],
    ['surrounding space', ' 1.0.0'],
    ['two parts', '1.0'],
    ['more than 64 characters', `1.0.0-${'a'.repeat(60)}`],
    ['not a string', 100],
  ])('refuses %s', (_why, v) => {
    expect(isReleaseVersion(v)).toBe(false);
  });
});

describe('compareReleaseVersions', () => {
  it('orders by semver and ranks an unparsable legacy row below every valid one, without throwing', () => {
    const sorted = ['1.10.0', '99999999999999999999.0.0', '1.2.0', '2.0.0-rc.1'].sort((a, b) => compareReleaseVersions(b, a));
    expect(sorted).toEqual(['2.0.0-rc.1', '1.10.0', '1.2.0', '99999999999999999999.0.0']);
  });
});
