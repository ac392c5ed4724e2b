import { describe, expect, it } from '@jest/globals';
import type { ShadowAbandonCause, ShadowDecision } from '#protocol';
import { type ShadowCandidate, ShadowTap } from '../shadow/shadow-evaluator.js';
import type { VerifiedDesired } from './desired.js';
import { awaitActivation, shadowCandidate, type ShadowStepDeps } from './shadow-step.js';
import { StepFailure } from './step-failure.js';
import { testVerifiedDesired } from '../../../../test/helpers/desired-state.js';

/** A window that is closed all but one minute every four years. */
const CLOSED = { cron: '0 0 29 2 *', durationMinutes: 1, timezone: 'UTC' };

/** A verified desired state of `dep-1` asking for a shadow run, with the control plane's decision once it has one. */
function desired(decision?: ShadowDecision, activationWindow?: typeof CLOSED, abandonCause?: ShadowAbandonCause): VerifiedDesired {
  return testVerifiedDesired({
    deploymentId: 'dep-1',
    shadow: { sampleRate: 1, ...(decision ? { decision } : {}), ...(abandonCause ? { abandonCause } : {}) },
    ...(activationWindow ? { activationWindow } : {}),
  });
}

const hung: ShadowCandidate = { run: () => new Promise(() => undefined), dispose: async () => undefined };

function deps(maxShadowMs: number): ShadowStepDeps {
  return { tap: new ShadowTap(), report: async () => undefined, reportEveryMs: 60_000, limits: { inferenceTimeoutMs: 20, maxShadowMs }, log: () => undefined };
}

const failureOf = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

describe('shadowCandidate', () => {
  it('ends a phase that gets no decision within maxShadowMs as shadow-failed, even with a candidate that hangs', async () => {
    const d = deps(300);
    const started = Date.now();
    const error = await failureOf(shadowCandidate(d, desired(), hung, () => desired(), new AbortController().signal));
    expect(error).toBeInstanceOf(StepFailure);
    expect((error as StepFailure).reason).toBe('shadow-failed');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(d.tap.evaluator).toBeUndefined();
  });

  it('answers an approval at once even while a candidate run hangs, and fails it: a candidate that hung on a live input never serves', async () => {
    const d = deps(60_000);
    let latest = desired();
    const deciding = failureOf(shadowCandidate(d, desired(), hung, () => latest, new AbortController().signal));
    while (!d.tap.evaluator) await new Promise((r) => setTimeout(r, 5));
    d.tap.offer(new Float32Array(2), { output: Float32Array.from([0.2, 0.8]), latencyMs: 1 });
    while (d.tap.evaluator.figures().errors === 0) await new Promise((r) => setTimeout(r, 5)); // past its 20 ms timeout
    latest = desired('activate');
    const error = await deciding;
    expect(error).toBeInstanceOf(StepFailure);
    expect((error as StepFailure).message).toMatch(/never returned/);
  });

  it('returns the approving document when every candidate run came back', async () => {
    const d = deps(60_000);
    const quick: ShadowCandidate = { run: async () => ({ output: Float32Array.from([0.2, 0.8]), engineMs: 1 }), dispose: async () => undefined };
    let latest = desired();
    const deciding = shadowCandidate(d, desired(), quick, () => latest, new AbortController().signal);
    while (!d.tap.evaluator) await new Promise((r) => setTimeout(r, 5));
    d.tap.offer(new Float32Array(2), { output: Float32Array.from([0.2, 0.8]), latencyMs: 1 });
    while (d.tap.evaluator.figures().samples === 0) await new Promise((r) => setTimeout(r, 5));
    latest = desired('activate');
    expect((await deciding).state.shadow?.decision).toBe('activate');
  });

  it('fails an abandoned candidate by the cause signed with it: cancelled for a stopped rollout, shadow-failed for the gate, a timeout, or no cause', async () => {
    const quick: ShadowCandidate = { run: async () => ({ output: Float32Array.from([0.2, 0.8]), engineMs: 1 }), dispose: async () => undefined };
    const cases: [ShadowAbandonCause | undefined, string, RegExp][] = [
      ['stopped', 'cancelled', /rollout stopped before a shadow verdict/],
      ['gate', 'shadow-failed', /failed the shadow gate/],
      ['timeout', 'shadow-failed', /node timeout/],
      [undefined, 'shadow-failed', /abandoned the candidate after its shadow evaluation/],
    ];
    for (const [cause, reason, message] of cases) {
      const error = await failureOf(shadowCandidate(deps(60_000), desired(), quick, () => desired('abandon', undefined, cause), new AbortController().signal));
      expect({ cause, reason: (error as StepFailure).reason, message: (error as StepFailure).message }).toEqual({ cause, reason, message: expect.stringMatching(message) });
    }
  });
});

describe('awaitActivation', () => {
  it('fails as shadow-failed when the approval is withdrawn while the window is closed', async () => {
    let latest = desired('activate', CLOSED);
    let waiting = false;
    const wait = failureOf(awaitActivation(latest, () => latest, { signal: new AbortController().signal, pollMs: 10, onWaiting: async () => void (waiting = true) }));
    while (!waiting) await new Promise((r) => setTimeout(r, 5));
    latest = desired('abandon', CLOSED);
    const error = await wait;
    expect(error).toBeInstanceOf(StepFailure);
    expect((error as StepFailure).reason).toBe('shadow-failed');
  });

  it('fails as cancelled when the approval is withdrawn because the rollout stopped', async () => {
    const approved = desired('activate', CLOSED);
    const error = await failureOf(awaitActivation(approved, () => desired('abandon', CLOSED, 'stopped'), { signal: new AbortController().signal, pollMs: 10, onWaiting: async () => undefined }));
    expect((error as StepFailure).reason).toBe('cancelled');
    expect((error as StepFailure).message).toMatch(/withdrew its approval before activation: its rollout stopped/);
  });

  it('answers the approving document at once when no window holds it', async () => {
    const approved = desired('activate');
    expect(await awaitActivation(approved, () => approved, { signal: new AbortController().signal, onWaiting: async () => undefined })).toBe(approved);
  });
});
