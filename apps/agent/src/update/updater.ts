import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { type DeploymentState, type DesiredStateMessage, type FailureReason, toRanges } from '#protocol';
import { type Envelope, type ModelManifest, type RootDocument, TrustError, verifyArtifactStream, verifyThreshold } from '#trust';
import type { AgentConfig } from '../config.js';
import { type InferenceEngine, type InferenceSession, compilePreprocessing, parsePreprocessing, type SessionHolder, type ServingModel } from '#inference';
import type { InferenceStats } from '../telemetry/inference-stats.js';
import type { SlotName, SlotStore } from '../state/slots.js';
import { Superseded, waitForActivationWindow } from './activation.js';
import { verifyDesired, type VerifiedDesired } from './desired.js';
import { DownloadStore, InsufficientDiskError } from './download-store.js';
import { failpoint } from './failpoints.js';
import { type LifecycleEvent, nextPhase } from './lifecycle.js';
import { planUpdate, type Step } from './planner.js';
import { runSelfTest, SelfTestError } from './self-test.js';
import { type ReportedStatus, type UpdateRecord, UpdateRecordFile } from './update-record.js';

export interface UpdaterPorts {
  /** Publishes a deployment status. */
  report(deploymentId: string, seq: number, state: DeploymentState, extra?: { reason?: FailureReason; detail?: string; progress?: number }): Promise<void>;
  /** Asks the control plane for missing chunks. */
  requestChunks(sha256: string, missing: [number, number][]): Promise<void>;
  log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
}

class StepFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const MAX_STEP_STARTS = 3;

/**
 * Applies desired states one at a time: plans with the pure planner, then runs each step after
 * persisting the phase it enters, so `kill -9` at any instant resumes the recorded step or rolls back.
 */
export class Updater {
  private record!: UpdateRecord;
  private readonly file: UpdateRecordFile;
  private pending?: VerifiedDesired;
  private running?: Promise<void>;
  private download?: DownloadStore;
  private chunkArrived?: () => void;
  private writes: Promise<void> = Promise.resolve();
  private staged?: { session: InferenceSession; slot: SlotName };

  constructor(
    private readonly config: AgentConfig,
    private readonly root: RootDocument,
    private readonly nodeId: string,
    private readonly slots: SlotStore,
    private readonly holder: SessionHolder,
    private readonly engines: ReadonlyMap<string, InferenceEngine>,
    private readonly stats: InferenceStats,
    private readonly ports: UpdaterPorts,
  ) {
    this.file = new UpdateRecordFile(config.stateDir);
  }

  get phase(): string {
    return this.record.phase;
  }

  /** Loads the persisted record and the active model (re-verified), then resumes any update. */
  async start(): Promise<void> {
    this.record = await this.file.load();
    await this.loadActiveModel();
    if (this.record.desired) this.pending = this.tryVerify(this.record.desired, false);
    this.kick();
  }

  /** A desired state from the broker: verified here, applied by the loop; refused ones are reported. */
  onDesired(message: DesiredStateMessage): void {
    const verified = this.tryVerify(message, true);
    if (verified) {
      this.pending = verified;
      this.kick();
    }
  }

  onChunk(sha256: string, index: number, data: Buffer): void {
    const store = this.download;
    if (!store || store.layout.sha256 !== sha256 || store.has(index)) return;
    this.writes = this.writes.then(() => store.write(index, data)).then(
      () => this.chunkArrived?.(),
      (error: unknown) => this.ports.log('warn', 'could not write a chunk', { index, err: String(error) }),
    );
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private tryVerify(message: DesiredStateMessage, reportRefusal: boolean): VerifiedDesired | undefined {
    // The retained desired state of the update in progress (or just committed) comes again after every
    // reconnect and restart: its sequence is already recorded as installed, which is no rollback.
    const sameArtifact = this.record.desired?.artifact.sha256 === message.artifact.sha256;
    try {
      return verifyDesired(message, this.root, this.nodeId, sameArtifact ? {} : this.record.installed);
    } catch (error) {
      const reason = error instanceof TrustError ? error.reason : 'internal';
      const deploymentId = ((message.desired.signed as { deploymentId?: unknown }).deploymentId as string | undefined) ?? '00000000-0000-0000-0000-000000000000';
      this.ports.log('warn', 'refused a desired state', { reason, detail: (error as Error).message });
      if (reportRefusal) void this.report(deploymentId, 'rejected', { reason: reason as FailureReason, detail: (error as Error).message });
      return undefined;
    }
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  /** One apply at a time; a desired state that arrives meanwhile is planned after. */
  private async loop(): Promise<void> {
    for (;;) {
      const target = this.pending;
      const installedSha256 = (await this.slots.active())?.sha256;
      const steps = planUpdate(
        { phase: this.record.phase, deploymentId: this.record.desired ? deploymentOf(this.record.desired) : undefined, installedSha256 },
        target ? { deploymentId: target.state.deploymentId, sha256: target.manifest.sha256 } : undefined,
      );
      if (steps.length === 0) {
        // Nothing in flight: partial downloads of superseded or failed deployments only take disk.
        const pruned = await DownloadStore.prune(this.config.stateDir, target?.manifest.sha256);
        if (pruned.length > 0) this.ports.log('info', 'removed stale downloads', { artifacts: pruned });
        return;
      }
      if (target && deploymentOf(this.record.desired) !== target.state.deploymentId) {
        await this.transition('desired', { desired: target.message, stagedSlot: undefined, previousSlot: (await this.slots.active())?.slot ?? null, failure: undefined });
      }
      await this.runSteps(steps, target);
      if (this.pending === target) return;
    }
  }

  private async runSteps(steps: Step[], target: VerifiedDesired | undefined): Promise<void> {
    for (const step of steps) {
      if (this.pending !== target && ['download', 'verify', 'stage', 'self-test'].includes(step)) return; // superseded
      try {
        await this.guardCrashLoop();
        await this.runStep(step, target);
      } catch (error) {
        if (error instanceof Superseded) return; // the loop plans the newer desired state next
        const failure = error instanceof StepFailure ? error : new StepFailure('internal', (error as Error).message, { cause: error });
        this.ports.log('error', 'update step failed', { step, reason: failure.reason, detail: failure.message });
        await this.fail(failure);
        return;
      }
    }
  }

  private async runStep(step: Step, target: VerifiedDesired | undefined): Promise<void> {
    switch (step) {
      case 'rollback':
        return this.rollback();
      case 'report-committed':
        return void (await this.report(target?.state.deploymentId, 'committed'));
      default:
        if (!target) throw new StepFailure('internal', `no desired state for step ${step}`);
        return this.pipelineStep(step, target);
    }
  }

  private async pipelineStep(step: Step, target: VerifiedDesired): Promise<void> {
    const id = target.state.deploymentId;
    switch (step) {
      case 'download':
        if (!this.engines.has(target.manifest.engine)) {
          throw new StepFailure('unsupported-engine', `this agent runs ${[...this.engines.keys()].join(', ')}, not ${target.manifest.engine}`);
        }
        await this.downloadArtifact(target);
        if (this.pending !== target) return; // superseded while waiting for chunks: the download is not complete
        failpoint('download:complete');
        await this.transition('downloaded');
        return void (await this.report(id, 'downloaded'));
      case 'verify':
        await this.verifyDownload(target);
        failpoint('verify:done');
        await this.transition('verified');
        return void (await this.report(id, 'verified'));
      case 'stage': {
        const store = await this.openDownload(target);
        const slot = await this.slots.stage(store.dataPath, { sha256: target.manifest.sha256, deploymentId: id, manifest: { ...target.state.manifest } }, () =>
          failpoint('stage:copied'),
        );
        failpoint('stage:recorded');
        await this.transition('staged', { stagedSlot: slot });
        return void (await this.report(id, 'staged'));
      }
      case 'self-test':
        await this.selfTest(target);
        failpoint('self-test:done');
        await waitForActivationWindow(target.state.activationWindow, {
          stillWanted: () => this.pending === target,
          onWaiting: async (opens) => {
            this.ports.log('info', 'self-tested; waiting for the activation window', { opens: opens?.toISOString() ?? null });
            await this.report(id, 'self-tested', { detail: `waiting for the activation window (opens ${opens?.toISOString() ?? 'never'})` });
          },
        });
        await this.transition('self-test-passed');
        return void (await this.report(id, 'self-tested'));
      case 'activate':
        await this.activate(target);
        await this.transition('activated');
        return void (await this.report(id, 'activated'));
      case 'soak':
        await this.soak(target);
        failpoint('soak:passed');
        await this.transition('soak-passed', { installed: { ...this.record.installed, [target.manifest.name]: target.manifest.sequence } });
        return;
      case 'commit':
        await this.report(id, 'committed');
        failpoint('commit:reported');
        await (await this.openDownload(target)).remove();
        this.download = undefined;
        return this.transition('done');
    }
  }

  private async openDownload(target: VerifiedDesired): Promise<DownloadStore> {
    const { sha256, size, chunkSize, chunkCount } = target.message.artifact;
    if (this.download?.layout.sha256 !== sha256) this.download = await DownloadStore.open(this.config.stateDir, { sha256, size, chunkSize, chunkCount });
    return this.download;
  }

  /** Waits for broadcast chunks; when they stop coming, asks for the missing ones, a bounded number of times. */
  private async downloadArtifact(target: VerifiedDesired): Promise<void> {
    let store: DownloadStore;
    try {
      store = await this.openDownload(target);
    } catch (error) {
      if (error instanceof InsufficientDiskError) throw new StepFailure('insufficient-disk', error.message, { cause: error });
      throw error;
    }
    // Only now: the control plane starts the broadcast once every node has said `downloading`.
    await this.report(target.state.deploymentId, 'downloading', { progress: 0 });
    let repairs = 0;
    while (!store.complete) {
      const arrived = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), this.config.stallSeconds * 1000);
        this.chunkArrived = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      await this.writes;
      if (arrived || store.complete) continue;
      if (this.pending !== target) return;
      if (++repairs > this.config.repairAttempts) throw new StepFailure('stalled', `no progress after ${repairs - 1} repair requests`);
      const missing = toRanges(store.missing());
      await this.ports.requestChunks(target.manifest.sha256, missing.slice(0, 1024));
    }
    this.chunkArrived = undefined;
    await store.save();
  }

  private async verifyDownload(target: VerifiedDesired): Promise<void> {
    const store = await this.openDownload(target);
    try {
      await verifyArtifactStream(createReadStream(store.dataPath), target.manifest, { stallTimeoutMs: 30_000 });
    } catch (error) {
      await store.remove(); // corrupt or tampered: never reuse these bytes
      this.download = undefined;
      if (error instanceof TrustError) throw new StepFailure(error.reason as FailureReason, error.message, { cause: error });
      throw error;
    }
  }

  private async selfTest(target: VerifiedDesired): Promise<void> {
    const slot = this.record.stagedSlot;
    if (!slot) throw new StepFailure('internal', 'nothing staged');
    const session = await this.loadSession(slot, target.manifest);
    try {
      await runSelfTest(session, target.manifest.selfTest, inputSize(target.manifest));
    } catch (error) {
      await session.dispose();
      if (error instanceof SelfTestError) throw new StepFailure('self-test-failed', error.message, { cause: error });
      throw error;
    }
    this.staged = { session, slot };
  }

  /** Loads and warms the new session (unless the self-test left it loaded), flips the pointer, swaps. */
  private async activate(target: VerifiedDesired): Promise<void> {
    const slot = this.record.stagedSlot;
    if (!slot) throw new StepFailure('internal', 'nothing staged');
    const session = this.staged?.slot === slot ? this.staged.session : await this.loadSession(slot, target.manifest);
    this.staged = undefined;
    await this.slots.activate(slot);
    failpoint('activate:pointer-flipped');
    if (this.holder.model?.sha256 !== target.manifest.sha256) await this.holder.swap(session, servingModelOf(target.manifest));
    failpoint('activate:swapped');
    this.stats.resetSoak(target.manifest.sha256);
  }

  /** Commits after `soak.inferences` good inferences or `soak.seconds`; any failed inference rolls back. */
  private async soak(target: VerifiedDesired): Promise<void> {
    const deadline = Date.now() + this.config.soak.seconds * 1000;
    for (;;) {
      const soak = this.stats.soak(target.manifest.sha256);
      if (soak.errors > 0) throw new StepFailure('soak-failed', `${soak.errors} failed inference(s) during the soak`);
      if (soak.successes >= this.config.soak.inferences || Date.now() >= deadline) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async fail(failure: StepFailure): Promise<void> {
    const id = deploymentOf(this.record.desired);
    await this.transition('fail', { failure: { reason: failure.reason, detail: failure.message } });
    if (id) await this.report(id, 'failed', { reason: failure.reason, detail: failure.message });
    await this.rollback();
  }

  /** Returns to the slot that served before the update (still on disk), or to no model. */
  private async rollback(): Promise<void> {
    const previous = this.record.previousSlot;
    if (this.staged) {
      await this.staged.session.dispose();
      this.staged = undefined;
    }
    const active = await this.slots.active();
    if (previous && active?.slot !== previous) await this.slots.activate(previous);
    await this.loadActiveModel();
    const id = deploymentOf(this.record.desired);
    await this.transition('rolled-back');
    if (id) await this.report(id, 'rolled-back', this.record.failure ? { reason: this.record.failure.reason as FailureReason, detail: this.record.failure.detail } : {});
    if (this.download) {
      await this.download.remove();
      this.download = undefined;
    }
    await this.transition('done');
  }

  /** Serves the active slot after re-verifying it: its bytes hash to the signed manifest's digest. */
  private async loadActiveModel(): Promise<void> {
    const active = await this.slots.active();
    if (!active) return;
    const content = await this.slots.content(active.slot);
    const envelope = content?.manifest as unknown as Envelope<ModelManifest> | undefined;
    if (!content || !envelope) throw new Error(`active slot ${active.slot} has no content record`);
    verifyThreshold(envelope, this.root.roles.release, this.root.keys, this.root.revokedKeyIds);
    const manifest = envelope.signed;
    const hash = createHash('sha256');
    await pipeline(createReadStream(this.slots.modelPath(active.slot)), hash);
    if (hash.digest('hex') !== manifest.sha256) throw new Error(`active slot ${active.slot} does not match its signed manifest`);
    if (this.holder.model?.sha256 === manifest.sha256) return;
    await this.holder.swap(await this.loadSession(active.slot, manifest), servingModelOf(manifest));
  }

  /** Loads a slot's model with the manifest's preprocessing in front of it. */
  private async loadSession(slot: SlotName, manifest: ModelManifest): Promise<InferenceSession> {
    const spec = specOf(manifest);
    let preprocess: (input: Float32Array) => Float32Array;
    try {
      preprocess = compilePreprocessing(parsePreprocessing(manifest.preprocessing), spec.inputShape);
    } catch (error) {
      throw new StepFailure('unsupported-engine', `unsupported preprocessing: ${(error as Error).message}`, { cause: error });
    }
    const engine = this.engines.get(manifest.engine);
    if (!engine) throw new StepFailure('unsupported-engine', `no engine '${manifest.engine}' on this agent`);
    const session = await engine.load(this.slots.modelPath(slot), spec);
    return { run: (input) => session.run(preprocess(input)), dispose: () => session.dispose() };
  }

  private async guardCrashLoop(): Promise<void> {
    const starts = this.record.stepStarts + 1;
    await this.save({ ...this.record, stepStarts: starts });
    if (starts > MAX_STEP_STARTS) throw new StepFailure('crash-loop', `step '${this.record.phase}' started ${starts} times`);
  }

  private async transition(event: LifecycleEvent, changes: Partial<UpdateRecord> = {}): Promise<void> {
    await this.save({ ...this.record, ...changes, phase: nextPhase(this.record.phase, event), stepStarts: 0 });
  }

  private async save(record: UpdateRecord): Promise<void> {
    await this.file.save(record);
    this.record = record;
  }

  private statusAckedUpTo = 0;

  private async report(deploymentId: string | undefined, state: DeploymentState, extra: { reason?: FailureReason; detail?: string; progress?: number } = {}): Promise<void> {
    if (!deploymentId) return;
    const status: ReportedStatus = { deploymentId, seq: this.record.statusSeq + 1, state, ...extra };
    await this.save({ ...this.record, statusSeq: status.seq, lastStatus: status });
    await this.send(status);
  }

  /** The control plane stored every status up to `seq`. */
  statusAcknowledged(seq: number): void {
    this.statusAckedUpTo = Math.max(this.statusAckedUpTo, seq);
  }

  /** Sends the latest status again if it is still unacknowledged (on reconnect, and with heartbeats). */
  async resendUnackedStatus(): Promise<void> {
    const last = this.record.lastStatus;
    if (last && last.seq > this.statusAckedUpTo) await this.send(last);
  }

  private async send({ deploymentId, seq, state, ...extra }: ReportedStatus): Promise<void> {
    await this.ports.report(deploymentId, seq, state, extra).catch((error: unknown) => this.ports.log('warn', 'could not report status', { err: String(error) }));
  }
}

const deploymentOf = (desired: DesiredStateMessage | undefined): string | undefined =>
  (desired?.desired.signed as { deploymentId?: string } | undefined)?.deploymentId;

function inputSize(manifest: ModelManifest): number {
  const shape = (manifest.inputSpec as { shape?: number[] }).shape ?? [];
  return shape.reduce((a, b) => a * Math.max(1, b), 1);
}

function specOf(manifest: ModelManifest) {
  const spec = manifest.inputSpec as { shape?: number[]; name?: string };
  return { engine: manifest.engine, format: manifest.format, inputShape: spec.shape ?? [1, inputSize(manifest)], inputName: spec.name, outputName: (manifest.outputSpec as { name?: string }).name };
}

const servingModelOf = (m: ModelManifest): ServingModel => ({ sha256: m.sha256, name: m.name, version: m.version, variant: m.variant });
