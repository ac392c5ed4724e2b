import type { Schemas } from '#api-client';
import { EMPTY_RULE, MAX_VARIANT_RULES, type VariantRuleFields } from './rollout-form.js';

type Version = Schemas['ModelVersionDto'];

const versionLabel = (v: Version) => `${v.model} ${v.version} (${v.variant}, ${v.format})`;

/**
 * Which variant goes to which nodes: rules tried in order, the first whose match accepts a node gives its
 * version (docs/rollouts.md). One rule without a match sends one version to every node. Rule 1's version is
 * labelled "Version" alone, as it is the whole choice in the common case.
 */
export function VariantRules({ rules, versions, onChange }: { rules: readonly VariantRuleFields[]; versions: readonly Version[]; onChange: (rules: VariantRuleFields[]) => void }) {
  const update = (index: number, patch: Partial<VariantRuleFields>) => onChange(rules.map((r, i) => (i === index ? { ...r, ...patch } : r)));
  const several = rules.length > 1;
  return (
    <fieldset class="variant-rules" aria-describedby="variant-rules-hint">
      <legend>Variants</legend>
      <small id="variant-rules-hint">Tried in order: a node gets the version of the first rule that matches it. Leave the last rule's match empty to catch every other node.</small>
      <ol>
        {rules.map((rule, i) => {
          const suffix = i === 0 ? '' : ` (rule ${i + 1})`;
          return (
            <li key={i} class="variant-rule" data-testid={`variant-rule-${i + 1}`}>
              <div class="field">
                <label for={`r-${i}-version`}>{`Version${suffix}`}</label>
                <select id={`r-${i}-version`} value={rule.modelVersionId} onChange={(e) => update(i, { modelVersionId: e.currentTarget.value })}>
                  <option value="">Choose…</option>
                  {versions.map((v) => (
                    <option key={v.id} value={v.id}>
                      {versionLabel(v)}
                    </option>
                  ))}
                </select>
              </div>
              <div class="field">
                <label for={`r-${i}-selector`}>{`Nodes matching${suffix}`}</label>
                <input id={`r-${i}-selector`} maxLength={2000} placeholder={i === rules.length - 1 ? 'any node' : 'power=low'} value={rule.selector} onInput={(e) => update(i, { selector: e.currentTarget.value })} />
              </div>
              <div class="field">
                <label for={`r-${i}-ram`}>{`Max RAM, MB${suffix}`}</label>
                <input id={`r-${i}-ram`} inputMode="numeric" maxLength={8} placeholder="any" value={rule.maxRamMb} onInput={(e) => update(i, { maxRamMb: e.currentTarget.value })} />
              </div>
              {several && (
                <button type="button" class="quiet" aria-label={`Remove rule ${i + 1}`} onClick={() => onChange(rules.filter((_, j) => j !== i))}>
                  Remove
                </button>
              )}
            </li>
          );
        })}
      </ol>
      <button type="button" class="quiet" disabled={rules.length >= MAX_VARIANT_RULES} onClick={() => onChange([...rules, EMPTY_RULE])}>
        Add variant rule
      </button>
    </fieldset>
  );
}
