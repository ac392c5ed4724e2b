import { ValidateBy, type ValidationOptions } from 'class-validator';
import { labelProblems } from '../label-selector.js';

function problemsOf(value: unknown, allowNull: boolean): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return ['must be an object of label keys to string values'];
  }
  // A null (remove this label) only needs a valid key: stand in a valid value for it.
  const checked = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, allowNull && v === null ? 'x' : v]));
  return labelProblems(checked);
}

/** A map of Kubernetes-style label keys to values; with `allowNull`, null marks a label for removal. */
export function IsLabelMap(options: { allowNull?: boolean } = {}, validationOptions?: ValidationOptions): PropertyDecorator {
  const allowNull = options.allowNull ?? false;
  return ValidateBy(
    {
      name: 'isLabelMap',
      validator: {
        validate: (value: unknown) => problemsOf(value, allowNull).length === 0,
        defaultMessage: (args) => `$property: ${problemsOf(args?.value, allowNull).join('; ')}`,
      },
    },
    validationOptions,
  );
}
