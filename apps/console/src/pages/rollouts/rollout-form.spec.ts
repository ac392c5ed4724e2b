import { describe, expect, it } from '@jest/globals';
import { EMPTY_FORM, toCreateBody } from './rollout-form.js';

const filled = { ...EMPTY_FORM, name: ' digits 1.1 ', modelVersionId: 'v1', selector: ' site=lyon ' };

describe('the new-rollout form → POST /v1/rollouts body', () => {
  it('turns the fields into the strategy the API takes', () => {
    expect(toCreateBody({ ...filled, percentages: '5, 25,100', failureCount: '2', nodeTimeoutSeconds: '60', bakeSeconds: '30', requireApproval: true })).toEqual({
      name: 'digits 1.1',
      modelVersionId: 'v1',
      selector: 'site=lyon',
      strategy: { waves: { percentages: [5, 25, 100] }, failureThreshold: { count: 2 }, nodeTimeoutSeconds: 60, bakeSeconds: 30, requireApproval: true, rollbackOnHalt: false },
    });
  });

  it.each([
    [{ name: '  ' }, 'name is required'],
    [{ modelVersionId: '' }, 'choose a version'],
    [{ percentages: '10, 50' }, 'the last wave must be 100'],
    [{ percentages: '10, x, 100' }, 'each wave percentage must be a whole number from 1 to 100'],
    [{ percentages: '0, 100' }, 'each wave percentage must be a whole number from 1 to 100'],
    [{ failureCount: '0' }, 'failures before halting must be a whole number'],
    [{ nodeTimeoutSeconds: '1.5' }, 'node timeout must be a whole number'],
    [{ bakeSeconds: '-1' }, 'bake time must be a whole number'],
  ])('refuses %j: %s', (patch, message) => {
    expect(() => toCreateBody({ ...filled, ...patch })).toThrow(message);
  });
});
