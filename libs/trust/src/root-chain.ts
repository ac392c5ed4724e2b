import type { Envelope } from './envelope.js';
import { type RootDocument, verifyRootStep } from './root.js';
import { TrustError } from './trust-error.js';

/** The outcome of walking from a trusted root towards the newest one offered. */
export interface RootWalk {
  /** Each root verified on the way, oldest first (empty when nothing newer could be verified). */
  readonly verified: readonly Envelope<RootDocument>[];
  /** Why the walk stopped before the newest offered version, if it did. */
  readonly refused?: TrustError;
}

/**
 * Walks the root chain from `trusted`, one version at a time, through the envelopes offered by version:
 * each step must be signed by the threshold of the root before it and by its own (`verifyRootStep`).
 * A missing version stops the walk (a node never skips a rotation: the skipped root might revoke a key
 * the next one relies on). Intermediate expiry does not matter; the caller judges the newest root's.
 */
export function walkRootChain(trusted: RootDocument, offered: ReadonlyMap<number, Envelope<RootDocument>>): RootWalk {
  const verified: Envelope<RootDocument>[] = [];
  let current = trusted;
  for (let version = trusted.version + 1; ; version++) {
    const envelope = offered.get(version);
    if (!envelope) break;
    try {
      current = verifyRootStep(current, envelope);
    } catch (error) {
      return { verified, refused: error instanceof TrustError ? error : new TrustError('bad-rotation', `root version ${version} does not verify`, { cause: error }) };
    }
    verified.push(envelope);
  }
  // A loop, not Math.max(...keys): spreading ~100k keys into arguments throws RangeError.
  let newest = 0;
  for (const version of offered.keys()) if (version > newest) newest = version;
  if (newest > current.version && !offered.has(current.version + 1)) {
    return { verified, refused: new TrustError('bad-rotation', `root version ${current.version + 1} is missing; cannot move to ${newest}`) };
  }
  return { verified };
}
