/** Why a document or an artifact was refused: one reason per attack in the threat model. */
export type TrustFailure =
  | 'malformed'
  | 'bad-signature' // arbitrary software: signature does not verify
  | 'threshold' // fewer valid signatures than the role requires
  | 'revoked-key'
  | 'expired' // indefinite freeze
  | 'wrong-target' // wrong software: signed for another node or deployment
  | 'rollback' // sequence not above the installed one
  | 'hash-mismatch' // arbitrary software / mix-and-match
  | 'size-exceeded' // endless data
  | 'size-mismatch'
  | 'stalled' // slow retrieval
  | 'decode-failed' // signed encoded bytes that do not decode (a corrupt or truncated stream)
  | 'bad-rotation'; // root not signed by the old and the new threshold

export class TrustError extends Error {
  constructor(
    readonly reason: TrustFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TrustError';
  }
}
