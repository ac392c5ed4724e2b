import type { FailureReason } from '#protocol';
import { TrustError } from '#trust';

/** Why a step failed, as the node reports it: a reason from the protocol's closed set and a detail. */
export class StepFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StepFailure';
  }
}

/** Maps whatever a step threw to a reportable failure, keeping the original as the cause. */
export function toStepFailure(error: unknown): StepFailure {
  if (error instanceof StepFailure) return error;
  if (error instanceof TrustError) return new StepFailure(trustReason(error), error.message, { cause: error });
  return new StepFailure('internal', error instanceof Error ? error.message : String(error), { cause: error });
}

/** Trust failures share their names with the protocol's reasons; a root rotation is not an update's. */
export function trustReason(error: TrustError): FailureReason {
  return error.reason === 'bad-rotation' ? 'internal' : error.reason;
}
