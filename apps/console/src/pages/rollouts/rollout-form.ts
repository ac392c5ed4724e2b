import type { Schemas } from '#api-client';

/** The form's fields as typed; `toCreateBody` turns them into the API's body or says what is wrong. */
export interface RolloutFormFields {
  name: string;
  modelVersionId: string;
  selector: string;
  percentages: string;
  failureCount: string;
  nodeTimeoutSeconds: string;
  bakeSeconds: string;
  requireApproval: boolean;
  rollbackOnHalt: boolean;
}

export const EMPTY_FORM: RolloutFormFields = {
  name: '',
  modelVersionId: '',
  selector: '',
  percentages: '10, 50, 100',
  failureCount: '1',
  nodeTimeoutSeconds: '900',
  bakeSeconds: '0',
  requireApproval: false,
  rollbackOnHalt: false,
};

const wholeNumber = (text: string, field: string, min: number, max: number): number => {
  const n = Number(text.trim());
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${field} must be a whole number from ${min} to ${max}`);
  return n;
};

export function toCreateBody(f: RolloutFormFields): Schemas['CreateRolloutDto'] {
  if (!f.name.trim()) throw new Error('name is required');
  if (!f.modelVersionId) throw new Error('choose a version');
  const percentages = f.percentages.split(',').map((p) => wholeNumber(p, 'each wave percentage', 1, 100));
  if (percentages.at(-1) !== 100) throw new Error('the last wave must be 100 (%)');
  return {
    name: f.name.trim(),
    modelVersionId: f.modelVersionId,
    selector: f.selector.trim(),
    strategy: {
      waves: { percentages },
      failureThreshold: { count: wholeNumber(f.failureCount, 'failures before halting', 1, 1_000_000) },
      nodeTimeoutSeconds: wholeNumber(f.nodeTimeoutSeconds, 'node timeout', 1, 86_400 * 7),
      bakeSeconds: wholeNumber(f.bakeSeconds, 'bake time', 0, 86_400 * 30),
      requireApproval: f.requireApproval,
      rollbackOnHalt: f.rollbackOnHalt,
    },
  };
}
