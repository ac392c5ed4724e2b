import type { FieldViolation } from '#common';
import type { CheckedSelfTest, DeclaredSpec, UploadedArtifact } from './artifact-check.js';

/** What the control plane sends the check's child process: one check, then the child exits. */
export interface CheckRequest {
  readonly spec: DeclaredSpec;
  readonly artifact: UploadedArtifact;
  readonly timeoutMs: number;
}

/** What the child answers, once. A refusal carries what the parent needs to rebuild the domain error. */
export type CheckReply =
  | { readonly outcome: 'passed'; readonly selfTest: CheckedSelfTest | null }
  | { readonly outcome: 'unprocessable'; readonly message: string }
  | { readonly outcome: 'invalid'; readonly message: string; readonly violations: readonly FieldViolation[] }
  | { readonly outcome: 'failed'; readonly name: string; readonly message: string; readonly stack?: string };

export function isCheckReply(value: unknown): value is CheckReply {
  if (typeof value !== 'object' || value === null || !('outcome' in value)) return false;
  return ['passed', 'unprocessable', 'invalid', 'failed'].includes(String(value.outcome));
}
