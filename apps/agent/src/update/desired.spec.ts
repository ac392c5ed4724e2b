import { describe, expect, it } from '@jest/globals';
import type { DesiredStateMessage } from '#protocol';
import { buildRoot, generateSigningKey, type ModelManifest, signDesiredState, signManifest } from '#trust';
import { testManifest } from '../../../../test/helpers/desired-state.js';
import { asksForServingRelease, type DesiredFloor, DesiredStateRefused, isRecordedDocument, isStale, issuedTime, sequenceExempt, verifyDesired } from './desired.js';

const NOW = new Date('2026-12-01T12:00:00Z');
const LATER = new Date('2027-12-01T12:00:00Z');
const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

const releaseKeys = [generateSigningKey(), generateSigningKey()];
const root = buildRoot({ version: 1, expires: LATER, rootKeys: [generateSigningKey()], rootThreshold: 1, releaseKeys, releaseThreshold: 2 });
const strangers = [generateSigningKey(), generateSigningKey()];

function manifest(version: string, sequence: number, sha: string): ModelManifest {
  return testManifest({ version, sequence, sha256: sha.repeat(64), created: NOW.toISOString(), expires: LATER.toISOString() });
}

/** A desired-state message as the control plane sends it, signed by `keys` at `issued`. */
function desired(deploymentId: string, m: ModelManifest, issued: Date, keys = releaseKeys, nodeId = 'node-a'): DesiredStateMessage {
  const state = { type: 'desired-state' as const, nodeId, deploymentId, manifest: signManifest(m, releaseKeys), issued: issued.toISOString(), expires: LATER.toISOString() };
  return { v: 1, id: deploymentId, ts: issued.toISOString(), desired: signDesiredState(state, keys), artifact: { sha256: m.sha256, size: m.size, chunkSize: 64 } } as DesiredStateMessage;
}

function refusal(message: DesiredStateMessage, floor: DesiredFloor): DesiredStateRefused {
  return verifyAt(message, floor, NOW);
}

function verifyAt(message: DesiredStateMessage, floor: DesiredFloor, now: Date): DesiredStateRefused {
  try {
    verifyDesired(message, root, 'node-a', floor, now);
  } catch (error) {
    if (error instanceof DesiredStateRefused) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

// A fleet's history on one node: v1 (seq 1), v2 (seq 2), a rollback to v1 (seq 3), forward to v3 (seq 4).
const v1 = manifest('1.0.0', 1, 'a');
const d1 = desired('d1', v1, at(-40));
const d2 = desired('d2', manifest('2.0.0', 2, 'b'), at(-30));
const v1again = manifest('1.0.0', 3, 'a');
const d3 = desired('d3', v1again, at(-20));
const d4 = desired('d4', manifest('3.0.0', 4, 'c'), at(-10));
const servingV1 = { name: 'm', version: '1.0.0', variant: 'fp32', sha256: 'a'.repeat(64) };

describe('verifyDesired: replays after a fleet rollback', () => {
  // d4 (v3) accepted and in flight, v1 (seq 3) still serving and committed.
  const inFlight: DesiredFloor = { recorded: d4.desired, newestIssued: issuedTime(d4.desired.signed), installed: { m: 3 }, serving: servingV1 };

  it.each([
    ['v1 (seq 1), before the rollback', d1],
    ['v2 (seq 2), the release rolled back', d2],
    ['the rollback itself (seq 3, the release that serves)', d3],
  ])('refuses the old genuine document of %s as stale, and reports it against no deployment', (_what, old) => {
    const refused = refusal(old, inFlight);
    expect(refused).toMatchObject({ kind: 'stale', deploymentId: old.desired.signed.deploymentId, reportable: false });
    expect(refused.cause.reason).toBe('rollback');
  });

  it('accepts the recorded document itself (the retained copy after a reconnect)', () => {
    expect(verifyDesired(d4, root, 'node-a', inFlight, NOW).state.deploymentId).toBe('d4');
  });

  it('accepts the in-flight deployment re-signed later (a refresh before expiry)', () => {
    const refreshed = desired('d4', manifest('3.0.0', 4, 'c'), at(-1));
    expect(verifyDesired(refreshed, root, 'node-a', inFlight, NOW).issuedAt).toBe(at(-1).getTime());
  });

  it('refuses, and reports, a newer document whose sequence is not above the installed one', () => {
    const lower = desired('d5', manifest('2.0.0', 2, 'b'), at(-1));
    expect(refusal(lower, inFlight)).toMatchObject({ kind: 'refused', deploymentId: 'd5', reportable: true, cause: { reason: 'rollback' } });
  });

  it('logs only, and does not report, an expired copy of the deployment in flight (its outcome is the node\'s own statuses)', () => {
    const copy = desired('d4', manifest('3.0.0', 4, 'c'), at(-1));
    const late = verifyAt(copy, inFlight, new Date(LATER.getTime() + 1000));
    expect(late).toMatchObject({ kind: 'known-deployment', deploymentId: 'd4', reportable: false, cause: { reason: 'expired' } });
  });

  it('logs only, and does not report, an expired document for a deployment it has not seen (a fresh copy follows)', () => {
    const away = desired('d6', manifest('4.0.0', 5, 'd'), at(-1));
    const late = verifyAt(away, inFlight, new Date(LATER.getTime() + 1000));
    expect(late).toMatchObject({ kind: 'expired', deploymentId: 'd6', reportable: false, cause: { reason: 'expired' } });
  });

  it('a node with no freshness floor yet (an older agent) still refuses lower sequences', () => {
    expect(refusal(d2, { installed: { m: 3 }, serving: servingV1 })).toMatchObject({ kind: 'refused', cause: { reason: 'rollback' } });
  });
});

describe('verifyDesired: what may name a deployment', () => {
  const floor: DesiredFloor = { recorded: d3.desired, newestIssued: issuedTime(d3.desired.signed), installed: { m: 3 }, serving: servingV1 };

  it('a document signed by unknown keys names no deployment', () => {
    const forged = desired('d3', v1, at(-1), strangers);
    expect(refusal(forged, floor)).toMatchObject({ kind: 'unverified', deploymentId: undefined, reportable: false, cause: { reason: 'threshold' } });
  });

  it('a genuine document with its manifest swapped names no deployment', () => {
    const swapped = { ...d4, desired: { ...d4.desired, signed: { ...d4.desired.signed, manifest: d1.desired.signed.manifest } } };
    expect(refusal(swapped, floor)).toMatchObject({ kind: 'unverified', deploymentId: undefined, reportable: false });
  });

  it('a genuine, current document for another node is logged only: delivered to this node it must not end this node\'s target of that deployment', () => {
    const other = desired('d5', manifest('3.0.0', 4, 'c'), at(-1), releaseKeys, 'node-b');
    expect(refusal(other, floor)).toMatchObject({ kind: 'other-node', deploymentId: 'd5', reportable: false, cause: { reason: 'wrong-target' } });
  });
});

describe('isRecordedDocument: only the byte-identical signed document is the recorded one', () => {
  it.each([
    ['the same document', d3.desired, true],
    ['the same document, keys in another order', { signatures: d3.desired.signatures, signed: { ...d3.desired.signed } }, true],
    ['the same deployment and manifest, re-signed later', desired('d3', v1again, at(-1)).desired, false],
    ['an older deployment carrying the same manifest', desired('d0', v1again, at(-20)).desired, false],
    ['another deployment', d4.desired, false],
  ])('%s → %s', (_what, incoming, same) => {
    expect(isRecordedDocument(d3.desired, incoming)).toBe(same);
  });

  it('nothing recorded: nothing is the recorded document', () => {
    expect(isRecordedDocument(undefined, d3.desired)).toBe(false);
  });
});

describe('isStale: the per-node freshness floor', () => {
  it.each([
    ['no floor yet', undefined, 10, false],
    ['issued after the newest accepted', 10, 11, false],
    ['issued at the same instant', 10, 10, false],
    ['issued before the newest accepted', 10, 9, true],
  ])('%s', (_what, newest, issued, stale) => {
    expect(isStale(newest, issued)).toBe(stale);
  });

  it('a desired state without a readable issued time is malformed', () => {
    expect(() => issuedTime({ issued: 'yesterday' })).toThrow(expect.objectContaining({ reason: 'malformed' }));
  });
});

describe('sequenceExempt and asksForServingRelease: what may skip the sequence check', () => {
  const serving = { name: 'm', version: '1.1.0', variant: 'default', sha256: 'a'.repeat(64) };
  const release = { ...serving, sequence: 2 };
  it.each([
    ['the serving release, committed under that sequence', release, { m: 2 }, true],
    ['an older sequence of the same release', { ...release, sequence: 1 }, { m: 2 }, false],
    ['another version with the same bytes and sequence', { ...release, version: '1.0.0' }, { m: 2 }, false],
    ['another variant', { ...release, variant: 'int8' }, { m: 2 }, false],
    ['other bytes', { ...release, sha256: 'b'.repeat(64) }, { m: 2 }, false],
    ['the serving release before it is committed (in its soak)', release, { m: 1 }, false],
  ])('%s → %s', (_case, incoming, installed, exempt) => {
    expect(asksForServingRelease(serving, installed, incoming)).toBe(exempt);
    expect(sequenceExempt(false, { installed, serving }, incoming)).toBe(exempt);
  });

  it('the recorded document is exempt; nothing is when no model serves', () => {
    expect(sequenceExempt(true, { installed: { m: 9 } }, { ...release, sequence: 1 })).toBe(true);
    expect(asksForServingRelease(undefined, { m: 2 }, release)).toBe(false);
  });
});

describe('verifyDesired with an encoded artifact', () => {
  const encoded: ModelManifest = { ...manifest('5.0.0', 9, 'e'), encoding: { name: 'gzip', sha256: 'f'.repeat(64), size: 40 } };
  const layoutFor = (sha256: string, size: number): DesiredStateMessage => {
    const message = desired('d-enc', encoded, NOW);
    return { ...message, artifact: { ...message.artifact, sha256, size } };
  };

  it('takes a layout that names the signed encoded bytes', () => {
    const verified = verifyDesired(layoutFor('f'.repeat(64), 40), root, 'node-a', { installed: {} }, NOW);
    expect(verified.manifest.encoding?.sha256).toBe('f'.repeat(64));
  });

  it('refuses a layout that names the decoded model instead, as an agent from before encodings refuses the encoded one', () => {
    expect(refusal(layoutFor('e'.repeat(64), 100), { installed: {} }).cause.reason).toBe('hash-mismatch');
  });
});
