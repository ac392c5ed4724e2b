import semver from 'semver';
import { registerDecorator, type ValidationOptions } from 'class-validator';

/**
 * A version the `semver` library itself accepts, in canonical form. class-validator's `IsSemVer` is a
 * looser regex: it took `99999999999999999999.0.0`, which `semver` refuses (each numeric part must be
 * a safe integer), so every later sort of that model's versions threw. Whatever is stored must parse.
 */
export function isReleaseVersion(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 64) return false;
  const parsed = semver.parse(value);
  if (!parsed) return false;
  // `semver` strips a leading `v`, spaces and build metadata when it formats; keep only canonical input.
  const canonical = parsed.build.length > 0 ? `${parsed.version}+${parsed.build.join('.')}` : parsed.version;
  return canonical === value;
}

export function IsReleaseVersion(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isReleaseVersion',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: '$property must be a semantic version such as 1.2.3 (each number at most 2^53 - 1, 64 characters at most)', ...options },
      validator: { validate: (value: unknown) => isReleaseVersion(value) },
    });
}

/**
 * Semver order, never throwing: a row stored before the check above (an unparsable version) ranks
 * below every valid one instead of failing the whole listing.
 */
export function compareReleaseVersions(a: string, b: string): number {
  const va = semver.valid(a) !== null;
  const vb = semver.valid(b) !== null;
  if (va && vb) return semver.compare(a, b);
  if (va !== vb) return va ? 1 : -1;
  return a.localeCompare(b);
}
