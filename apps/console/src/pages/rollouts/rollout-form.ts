import type { Schemas } from '#api-client';

/** One variant rule as typed: this version goes to the nodes matching the selector and RAM bound. */
export interface VariantRuleFields {
  modelVersionId: string;
  selector: string;
  maxRamMb: string;
}

/** The form's fields as typed; `toCreateBody` turns them into the API's body or says what is wrong. */
export interface RolloutFormFields {
  name: string;
  /** First match wins, as the API applies them; one rule without a match is "one version for every node". */
  variants: VariantRuleFields[];
  selector: string;
  percentages: string;
  failureCount: string;
  nodeTimeoutSeconds: string;
  bakeSeconds: string;
  requireApproval: boolean;
  rollbackOnHalt: boolean;
}

export const EMPTY_RULE: VariantRuleFields = { modelVersionId: '', selector: '', maxRamMb: '' };

/** The API's bound (strategy.ts variantRulesSchema): the form offers no more rules than it takes. */
export const MAX_VARIANT_RULES = 20;

export const EMPTY_FORM: RolloutFormFields = {
  name: '',
  variants: [EMPTY_RULE],
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

type VariantRule = Schemas['VariantRuleDto'];

function toRule(rule: VariantRuleFields, index: number, count: number): VariantRule {
  const which = count > 1 ? `rule ${index + 1}: ` : '';
  if (!rule.modelVersionId) throw new Error(`${which}choose a version`);
  const selector = rule.selector.trim();
  const ram = rule.maxRamMb.trim();
  const match = { ...(selector ? { selector } : {}), ...(ram ? { maxRamMb: wholeNumber(ram, `${which}max RAM (MB)`, 1, 10_000_000) } : {}) };
  return { modelVersionId: rule.modelVersionId, ...(Object.keys(match).length ? { match } : {}) };
}

/** One version for all (`modelVersionId`), or the rules as `variants` when there is any choice to make. */
function versionFields(rules: readonly VariantRuleFields[]): Pick<Schemas['CreateRolloutDto'], 'modelVersionId' | 'variants'> {
  if (rules.length === 0) throw new Error('choose a version');
  if (rules.length > MAX_VARIANT_RULES) throw new Error(`at most ${MAX_VARIANT_RULES} variant rules`);
  const parsed = rules.map((r, i) => toRule(r, i, rules.length));
  const only = parsed[0];
  return parsed.length === 1 && only && !only.match ? { modelVersionId: only.modelVersionId } : { variants: parsed };
}

export function toCreateBody(f: RolloutFormFields): Schemas['CreateRolloutDto'] {
  if (!f.name.trim()) throw new Error('name is required');
  const versions = versionFields(f.variants);
  const percentages = f.percentages.split(',').map((p) => wholeNumber(p, 'each wave percentage', 1, 100));
  if (percentages.at(-1) !== 100) throw new Error('the last wave must be 100 (%)');
  return {
    name: f.name.trim(),
    ...versions,
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
