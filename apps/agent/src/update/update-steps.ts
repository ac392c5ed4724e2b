import type { InferenceEngine, InferenceSession, SessionHolder } from '#inference';
import { ARTIFACT_ENCODINGS, isKnownEncoding } from '#protocol';
import type { ModelManifest } from '#trust';
import type { AgentConfig } from '../config.js';
import type { SlotName, SlotStore } from '../state/slots.js';
import { WorkerCandidate } from '../shadow/worker-candidate.js';
import type { InferenceStats } from '../telemetry/inference-stats.js';
import { delay, throwIfSuperseded } from './abort.js';
import { waitForActivationWindow } from './activation.js';
import { type ArtifactDownload, downloadLayout } from './artifact-download.js';
import type { VerifiedDesired } from './desired.js';
import { failpoint } from './failpoints.js';
import type { UpdateJournal } from './journal.js';
import { inputSize, type ModelLoader, servingModelOf } from './model-loader.js';
import type { Step } from './planner.js';
import type { LogFn } from './ports.js';
import { runSelfTest, SelfTestError } from './self-test.js';
import { awaitActivation, shadowCandidate, type ShadowStepDeps } from './shadow-step.js';
import { servingKey } from './serving-key.js';
import type { StatusReporter } from './status-reporter.js';
import { StepFailure, toStepFailure } from './step-failure.js';
import type { UpdateRecord } from './update-record.js';

/** One apply: the verified target it works towards and the signal that a newer one took over. */
export interface Apply {
  readonly target?: VerifiedDesired;
  readonly signal: AbortSignal;
  /** The newest verified desired state (a re-signed copy of the target may carry the shadow decision). */
  readonly latest?: () => VerifiedDesired | undefined;
}

type Executor = (apply: Apply) => Promise<void>;

export interface StepDeps {
  readonly config: AgentConfig;
  readonly journal: UpdateJournal;
  readonly reporter: StatusReporter;
  readonly download: ArtifactDownload;
  readonly loader: ModelLoader;
  readonly slots: SlotStore;
  readonly holder: SessionHolder;
  readonly engines: ReadonlyMap<string, InferenceEngine>;
  readonly stats: InferenceStats;
  readonly shadow: Omit<ShadowStepDeps, 'log'>;
  readonly log: LogFn;
}

const SOAK_POLL_MS = 100;
/** The shadow thread's load of the candidate and the reference (both loaded on the main thread before: only a stuck load takes this long). */
const SHADOW_LOAD_TIMEOUT_MS = 120_000;
const KNOWN_GOOD_MAX = 8;

/**
 * The executor map: one function per kind of step the planner names. Each step is idempotent (a crash
 * resumes it) and ends with a lifecycle transition, persisted before the status that announces it.
 */
export class UpdateSteps {
  /** The session the self-test loaded, handed to activation so the model is loaded once. */
  private staged?: { session: InferenceSession; slot: SlotName };
  private readonly executors: Readonly<Record<Step, Executor>>;

  constructor(private readonly d: StepDeps) {
    this.executors = {
      download: (a) => this.downloadStep(need(a), a.signal),
      verify: (a) => this.verifyStep(need(a)),
      stage: (a) => this.stageStep(need(a)),
      'self-test': (a) => this.selfTestStep(need(a), a.signal),
      shadow: (a) => this.shadowStep(need(a), a),
      activate: (a) => this.activateStep(need(a)),
      soak: (a) => this.soakStep(need(a), a.signal),
      commit: (a) => this.commitStep(need(a)),
      rollback: () => this.rollback(),
      adopt: (a) => this.adoptStep(need(a)),
      'reuse-slot': (a) => this.reuseSlotStep(need(a)),
      abandon: (a) => this.abandonStep(need(a)),
      confirm: (a) => this.confirmStep(need(a)),
    };
  }

  /** Runs the plan in order; stops quietly when superseded, fails and rolls back on any other error. */
  async run(steps: readonly Step[], apply: Apply): Promise<void> {
    for (const step of steps) {
      try {
        throwIfSuperseded(apply.signal);
        await this.d.journal.guardCrashLoop();
        await this.executors[step](apply);
      } catch (error) {
        if (apply.signal.aborted) return; // the loop plans the newer desired state next
        const failure = toStepFailure(error);
        this.d.log('error', 'update step failed', { step, reason: failure.reason, detail: failure.message, ...(failure.cause instanceof Error ? { stack: failure.cause.stack } : {}) });
        await this.fail(failure);
        return;
      }
    }
  }

  private async downloadStep(target: VerifiedDesired, signal: AbortSignal): Promise<void> {
    const id = target.state.deploymentId;
    if (!this.d.engines.has(target.manifest.engine)) {
      throw new StepFailure('unsupported-engine', `this agent runs ${[...this.d.engines.keys()].join(', ')}, not ${target.manifest.engine}`);
    }
    const encoding = target.manifest.encoding?.name;
    if (encoding !== undefined && !isKnownEncoding(encoding)) {
      throw new StepFailure('unsupported-encoding', `this agent decodes ${ARTIFACT_ENCODINGS.join(', ')}, not ${encoding}`);
    }
    // The store is open (chunks are written, not dropped) before `downloading` tells the control plane
    // to start the broadcast: the first broadcast is the one that counts.
    await this.d.download.open(downloadLayout(target));
    await this.d.reporter.report(id, 'downloading', { progress: 0 });
    await this.d.download.receive(downloadLayout(target), signal);
    failpoint('download:complete');
    await this.d.journal.transition('downloaded');
    await this.d.reporter.report(id, 'downloaded');
  }

  private async verifyStep(target: VerifiedDesired): Promise<void> {
    await this.d.download.verify(downloadLayout(target), target.manifest);
    failpoint('verify:done');
    await this.d.journal.transition('verified');
    await this.d.reporter.report(target.state.deploymentId, 'verified');
  }

  private async stageStep(target: VerifiedDesired): Promise<void> {
    const id = target.state.deploymentId;
    const source = await this.d.download.dataPath(downloadLayout(target), target.manifest);
    const slot = await this.d.slots.stage(source, { sha256: target.manifest.sha256, deploymentId: id, manifest: target.state.manifest }, () => failpoint('stage:copied'));
    failpoint('stage:recorded');
    await this.d.journal.transition('staged', { stagedSlot: slot });
    await this.d.reporter.report(id, 'staged');
  }

  private async selfTestStep(target: VerifiedDesired, signal: AbortSignal): Promise<void> {
    const id = target.state.deploymentId;
    const slot = this.d.journal.record.stagedSlot;
    if (!slot) throw new StepFailure('internal', 'nothing staged');
    const session = await this.testedSession(slot, target);
    if (this.staged) await this.staged.session.dispose(); // a superseded update's tested session: never to serve
    this.staged = { session, slot };
    failpoint('self-test:done');
    if (target.state.shadow) {
      // The activation window is waited for after the shadow evaluation, just before activating.
      await this.d.journal.transition('shadow-started');
      await this.d.reporter.report(id, 'self-tested', { detail: `shadow evaluation: the candidate runs beside the serving model on ${Math.round(target.state.shadow.sampleRate * 1000) / 10}% of requests until the control plane decides` });
      return;
    }
    await waitForActivationWindow(target.state.activationWindow, {
      signal,
      onWaiting: async (opens) => {
        this.d.log('info', 'self-tested; waiting for the activation window', { deploymentId: id, opens: opens?.toISOString() ?? null });
        await this.d.reporter.report(id, 'self-tested', { detail: `waiting for the activation window (opens ${opens?.toISOString() ?? 'never'})` });
      },
    });
    await this.d.journal.transition('self-test-passed');
    await this.d.reporter.report(id, 'self-tested');
  }

  /**
   * Runs the self-tested candidate beside the serving model until the control plane's signed decision
   * (shadow-step.ts), on a second load of the staged slot on its own thread (WorkerCandidate): its runs
   * never block serving, and the session that will serve is never run by the shadow. After a restart the
   * staged slot is loaded and self-tested again first. On `activate` the deciding document becomes the
   * recorded one, then the activation window is awaited.
   */
  private async shadowStep(target: VerifiedDesired, apply: Apply): Promise<void> {
    const slot = this.d.journal.record.stagedSlot;
    if (!slot) throw new StepFailure('internal', 'nothing staged');
    if (this.staged?.slot !== slot) {
      if (this.staged) await this.staged.session.dispose();
      this.staged = { session: await this.testedSession(slot, target), slot };
    }
    const latest = apply.latest ?? (() => target);
    const approved = await this.shadowOnThread(slot, target, (candidate) => shadowCandidate({ ...this.d.shadow, log: this.d.log }, target, candidate, latest, apply.signal), apply.signal);
    const activating = await awaitActivation(approved, latest, {
      signal: apply.signal,
      onWaiting: async (opens) => {
        await this.d.reporter.report(target.state.deploymentId, 'self-tested', { detail: `shadow evaluation passed; waiting for the activation window (opens ${opens?.toISOString() ?? 'never'})` });
      },
    });
    await this.d.journal.transition('shadow-approved', { desired: activating.message });
  }

  /**
   * Runs `shadow` with the candidate on its own thread, the serving model beside it as the reference its
   * time is compared with; the thread is disposed however `shadow` ends. A serving slot whose record no
   * longer reads leaves the candidate without a reference (timed against served requests), not failed.
   */
  private async shadowOnThread<T>(slot: SlotName, target: VerifiedDesired, shadow: (candidate: WorkerCandidate) => Promise<T>, signal: AbortSignal): Promise<T> {
    const file = (s: SlotName, manifest: ModelManifest) => ({ path: this.d.slots.modelPath(s), manifest, where: `slot ${s}` });
    const active = await this.d.slots.active();
    const serving = active && active.slot !== slot ? await this.d.slots.content(active.slot).catch(() => undefined) : undefined;
    const reference = active && serving ? { reference: file(active.slot, serving.manifest.signed) } : {};
    const candidate = await WorkerCandidate.start({ candidate: file(slot, target.manifest), ...reference, onnx: this.d.config.onnx ?? {} }, { signal, timeoutMs: SHADOW_LOAD_TIMEOUT_MS });
    if (candidate.referenceError) this.d.log('warn', 'the serving model did not load beside the shadow candidate: its time is compared with served requests', { err: candidate.referenceError });
    if (candidate.priorityError) this.d.log('warn', "the shadow candidate's thread does not yield the CPU to serving at once: its runs may slow requests down", { err: candidate.priorityError });
    try {
      return await shadow(candidate);
    } finally {
      await candidate.dispose();
    }
  }

  /** Loads and warms the new session (unless the self-test left it loaded), flips the pointer, swaps. */
  private async activateStep(target: VerifiedDesired): Promise<void> {
    const slot = this.d.journal.record.stagedSlot;
    if (!slot) throw new StepFailure('internal', 'nothing staged');
    const session = this.staged?.slot === slot ? this.staged.session : await this.d.loader.loadSession(slot, target.manifest);
    this.staged = undefined;
    await this.d.slots.activate(slot);
    failpoint('activate:pointer-flipped');
    const serving = this.d.holder.model;
    if (serving?.sha256 !== target.manifest.sha256 || serving.version !== target.manifest.version) await this.d.holder.swap(session, servingModelOf(target.manifest));
    else await session.dispose(); // resumed after a crash past the swap: that model serves already
    failpoint('activate:swapped');
    this.d.stats.resetSoak(target.manifest.sha256);
    await this.d.journal.transition('activated');
    await this.d.reporter.report(target.state.deploymentId, 'activated');
  }

  /**
   * Commits after `soak.inferences` good inferences or `soak.seconds`; any failed inference rolls back.
   * Bytes this node committed before with the same serving-relevant manifest fields (a return to the
   * previous model) are known good here: no soak. The same bytes with other preprocessing, specs or
   * labels soak again.
   */
  private async soakStep(target: VerifiedDesired, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.d.config.soak.seconds * 1000;
    const knownGood = this.d.journal.record.knownGood?.includes(servingKey(target.manifest)) ?? false;
    if (knownGood) this.d.log('info', 'no soak: this node committed these bytes before, with the same serving manifest', { deploymentId: target.state.deploymentId, sha256: target.manifest.sha256 });
    while (!knownGood) {
      const soak = this.d.stats.soak(target.manifest.sha256);
      if (soak.errors > 0) throw new StepFailure('soak-failed', `${soak.errors} failed inference(s) during the soak`);
      if (soak.successes >= this.d.config.soak.inferences || Date.now() >= deadline) break;
      await delay(SOAK_POLL_MS, signal);
    }
    failpoint('soak:passed');
    await this.d.journal.transition('soak-passed', this.installedChanges(target));
  }

  /**
   * The bytes already serve (a new version with known bytes): the new manifest is self-tested on a fresh
   * session (its preprocessing may differ), recorded for the active slot, and swapped in, so the node
   * reports and serves the new version with no download and no soak (those bytes served already).
   */
  private async adoptStep(target: VerifiedDesired): Promise<void> {
    const active = await this.d.slots.active();
    if (active?.sha256 !== target.manifest.sha256) throw new StepFailure('internal', 'the bytes to adopt no longer serve');
    const session = await this.testedSession(active.slot, target);
    await this.d.slots.relabel(active.slot, { sha256: target.manifest.sha256, deploymentId: target.state.deploymentId, manifest: target.state.manifest });
    await this.d.holder.swap(session, servingModelOf(target.manifest));
    await this.d.journal.transition('adopted', this.installedChanges(target));
    await this.d.reporter.report(target.state.deploymentId, 'activated', { detail: 'same bytes as the serving model: new manifest adopted without a download' });
  }

  /**
   * The bytes are the previous model, still in the other slot: re-hashed there (they must still match),
   * relabelled with the new signed manifest, then self-tested and activated as if just staged.
   */
  private async reuseSlotStep(target: VerifiedDesired): Promise<void> {
    const slot = await this.d.slots.inactiveSlot();
    if (!(await this.d.loader.slotHolds(slot, target.manifest.sha256))) throw new StepFailure('hash-mismatch', `slot ${slot} no longer holds ${target.manifest.sha256}`);
    await this.d.slots.relabel(slot, { sha256: target.manifest.sha256, deploymentId: target.state.deploymentId, manifest: target.state.manifest });
    await this.d.journal.transition('reused', { stagedSlot: slot });
    await this.d.reporter.report(target.state.deploymentId, 'staged', { detail: `the previous model, still in slot ${slot}: no download` });
  }

  /**
   * A deployment of exactly the release that serves and is committed (a second deployment of it): the
   * deployment is recorded and reported committed, and nothing else changes — no phase, no slot, no swap.
   */
  private async confirmStep(target: VerifiedDesired): Promise<void> {
    await this.d.journal.save({ desired: target.message, failure: undefined });
    await this.d.reporter.report(target.state.deploymentId, 'committed', { detail: 'this release already serves here and is committed' });
  }

  /**
   * A newer deployment arrived while another activates or soaks: that one is abandoned (rolled back to
   * the model before it, reported as rolled back, superseded) so the newer one is planned at once.
   */
  private async abandonStep(newer: VerifiedDesired): Promise<void> {
    const detail = `superseded by deployment ${newer.state.deploymentId}`;
    this.d.log('info', 'abandoning the update in progress for a newer desired state', { deploymentId: this.d.journal.record.desired?.desired.signed.deploymentId ?? null, newer: newer.state.deploymentId });
    await this.d.journal.transition('fail', { failure: { reason: 'superseded', detail } });
    await this.rollback();
  }

  /** Loads a slot with the target's manifest and runs its self-test; the session is the caller's. */
  private async testedSession(slot: SlotName, target: VerifiedDesired): Promise<InferenceSession> {
    const session = await this.d.loader.loadSession(slot, target.manifest);
    try {
      await runSelfTest(session, target.manifest.selfTest, inputSize(target.manifest));
    } catch (error) {
      await session.dispose();
      if (error instanceof SelfTestError) throw new StepFailure('self-test-failed', error.message, { cause: error });
      throw error;
    }
    return session;
  }

  /** The installed sequence raised to the target's, and its serving key remembered as known good. */
  private installedChanges(target: VerifiedDesired): Partial<UpdateRecord> {
    const { name, sequence } = target.manifest;
    const key = servingKey(target.manifest);
    const record = this.d.journal.record;
    const knownGood = [...(record.knownGood ?? []).filter((k) => k !== key), key].slice(-KNOWN_GOOD_MAX);
    return { installed: { ...record.installed, [name]: Math.max(sequence, record.installed[name] ?? 0) }, knownGood };
  }

  private async commitStep(target: VerifiedDesired): Promise<void> {
    await this.d.reporter.report(target.state.deploymentId, 'committed');
    failpoint('commit:reported');
    await this.d.download.discard(target.message.artifact.sha256); // the download is kept under the bytes that travelled
    await this.d.journal.transition('done');
  }

  private async fail(failure: StepFailure): Promise<void> {
    const id = this.d.journal.record.desired?.desired.signed.deploymentId;
    await this.d.journal.transition('fail', { failure: { reason: failure.reason, detail: failure.message } });
    await this.d.reporter.report(id, 'failed', { reason: failure.reason, detail: failure.message });
    await this.rollback();
  }

  /** Returns to the slot that served before the update (still on disk), or to no model. */
  private async rollback(): Promise<void> {
    const previous = this.d.journal.record.previousSlot;
    await this.d.shadow.tap.end(); // no more samples (the shadow step disposes its candidate's thread)
    if (this.staged) {
      await this.staged.session.dispose();
      this.staged = undefined;
    }
    const active = await this.d.slots.active();
    if (previous && active?.slot !== previous) await this.d.slots.activate(previous);
    await this.d.loader.loadActive();
    const { desired, failure } = this.d.journal.record;
    await this.d.journal.transition('rolled-back');
    await this.d.reporter.report(desired?.desired.signed.deploymentId, 'rolled-back', failure ? { reason: failure.reason, detail: failure.detail } : {});
    await this.d.download.discard(desired?.artifact.sha256);
    await this.d.journal.transition('done');
  }
}

function need(apply: Apply): VerifiedDesired {
  if (!apply.target) throw new StepFailure('internal', 'no desired state for this step');
  return apply.target;
}
