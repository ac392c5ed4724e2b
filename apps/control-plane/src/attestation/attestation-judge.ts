import { verifyAttestation } from '#trust';
import type { AttestationVerdict } from '../nodes/node.entity.js';
import type { AttestationSubject } from './attestation.repository.js';

/** One heartbeat's attestation, with what the node says it serves. */
export interface AttestationReport {
  readonly nodeId: string;
  readonly nonce: string;
  readonly sha256: string;
  readonly sig: string;
  /** The digest of the release the heartbeat says the node serves. */
  readonly claimedSha256: string | null;
}

/** Why a report was not judged: not a verdict on the node. */
export type Unjudged = 'stale-nonce' | 'no-key';

/**
 * The verdict on one report (pure). A report over a nonce that is no longer current says nothing
 * either way (a node that was offline, or a replay), nor does one from a node that registered no key.
 * A signature that does not verify is `invalid`; a verified one is `mismatch` when the loaded bytes are
 * neither the release the node last committed nor one of a deployment it is still applying (it serves
 * the new release between activation and its stored commit), or not the one its heartbeat claims.
 */
export function judge(report: AttestationReport, subject: AttestationSubject | undefined, nonceIsCurrent: (nonce: string) => boolean): AttestationVerdict | Unjudged {
  if (!subject?.publicKey) return 'no-key';
  if (!nonceIsCurrent(report.nonce)) return 'stale-nonce';
  if (!verifyAttestation(subject.publicKey, { nodeId: report.nodeId, nonce: report.nonce, sha256: report.sha256 }, report.sig)) return 'invalid';
  const assigned = report.sha256 === subject.assignedSha256 || subject.applyingSha256.includes(report.sha256);
  if (!assigned || report.sha256 !== report.claimedSha256) return 'mismatch';
  return 'verified';
}
