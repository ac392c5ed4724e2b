import { describe, expect, it } from '@jest/globals';
import { EMPTY_FORM, EMPTY_RULE, toCreateBody } from './rollout-form.js';

const filled = { ...EMPTY_FORM, name: ' digits 1.1 ', variants: [{ ...EMPTY_RULE, modelVersionId: 'v1' }], selector: ' site=lyon ' };

describe('the new-rollout form → POST /v1/rollouts body', () => {
  it('turns the fields into the strategy the API takes', () => {
    expect(toCreateBody({ ...filled, percentages: '5, 25,100', failureCount: '2', nodeTimeoutSeconds: '60', bakeSeconds: '30', requireApproval: true })).toEqual({
      name: 'digits 1.1',
      modelVersionId: 'v1',
      selector: 'site=lyon',
      strategy: { waves: { percentages: [5, 25, 100] }, failureThreshold: { count: 2 }, nodeTimeoutSeconds: 60, bakeSeconds: 30, requireApproval: true, rollbackOnHalt: false },
    });
  });

  it('sends variant rules, in order, when there is more than one rule or a rule with a match', () => {
    const variants = [
      { modelVersionId: 'int8', selector: ' power=low ', maxRamMb: '' },
      { modelVersionId: 'small', selector: '', maxRamMb: ' 1024 ' },
      { modelVersionId: 'fp32', selector: '', maxRamMb: '' },
    ];
    const body = toCreateBody({ ...filled, variants });
    expect(body.modelVersionId).toBeUndefined();
    expect(body.variants).toEqual([{ modelVersionId: 'int8', match: { selector: 'power=low' } }, { modelVersionId: 'small', match: { maxRamMb: 1024 } }, { modelVersionId: 'fp32' }]);
    expect(toCreateBody({ ...filled, variants: [{ modelVersionId: 'int8', selector: 'power=low', maxRamMb: '' }] }).variants).toEqual([{ modelVersionId: 'int8', match: { selector: 'power=low' } }]);
  });

  it.each([
    [{ name: '  ' }, 'name is required'],
    [{ variants: [EMPTY_RULE] }, 'choose a version'],
    [{ variants: [] }, 'choose a version'],
    [{ variants: [{ ...EMPTY_RULE, modelVersionId: 'a' }, EMPTY_RULE] }, 'rule 2: choose a version'],
    [{ variants: [{ ...EMPTY_RULE, modelVersionId: 'a', maxRamMb: '0.5' }, { ...EMPTY_RULE, modelVersionId: 'b' }] }, 'rule 1: max RAM (MB) must be a whole number'],
    [{ variants: Array.from({ length: 21 }, () => ({ ...EMPTY_RULE, modelVersionId: 'a' })) }, 'at most 20 variant rules'],
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
