import type { KeyObject } from 'node:crypto';
import { signAttestation } from '#trust';

export interface AttestationReport {
  readonly nonce: string;
  readonly sha256: string;
  readonly sig: string;
}

/**
 * Signs what the heartbeat attests: the digest of the model bytes the engine loaded, over the control
 * plane's latest nonce, with the node's enrolment key. A signature is made once per (nonce, digest) and
 * reused by the heartbeats until either changes.
 */
export class Attestor {
  private nonce?: string;
  private last?: AttestationReport;

  constructor(
    private readonly nodeId: string,
    private readonly key: KeyObject | undefined,
  ) {}

  heardNonce(nonce: string): void {
    this.nonce = nonce;
  }

  /** The report for a heartbeat; undefined without a key, a nonce or a loaded model. */
  report(loadedSha256: string | undefined): AttestationReport | undefined {
    const { key, nonce } = this;
    if (!key || !nonce || !loadedSha256) return undefined;
    if (this.last?.nonce !== nonce || this.last.sha256 !== loadedSha256) {
      this.last = { nonce, sha256: loadedSha256, sig: signAttestation(key, { nodeId: this.nodeId, nonce, sha256: loadedSha256 }) };
    }
    return this.last;
  }
}
