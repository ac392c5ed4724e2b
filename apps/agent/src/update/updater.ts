import type { DesiredStateMessage } from '#protocol';
import type { InferenceEngine, SessionHolder } from '#inference';
import { TrustError } from '#trust';
import type { AgentConfig } from '../config.js';
import type { SlotStore } from '../state/slots.js';
import type { TrustSource } from '../state/trusted-root.js';
import type { InferenceStats } from '../telemetry/inference-stats.js';
import { Superseded } from './abort.js';
import { ArtifactDownload, downloadLayout } from './artifact-download.js';
import type { VerifiedDesired } from './desired.js';
import { DesiredIntake } from './desired-intake.js';
import { UpdateJournal } from './journal.js';
import { ModelLoader } from './model-loader.js';
import { currentState, desiredTarget, readInstalled } from './plan-input.js';
import { planUpdate } from './planner.js';
import type { UpdaterPorts } from './ports.js';
import { StatusReporter } from './status-reporter.js';
import { UpdateSteps } from './update-steps.js';
import { shadowStepSettings } from './shadow-step.js';

export type { UpdaterPorts } from './ports.js';

const MAX_PLANS_PER_TARGET = 5;

/**
 * Applies desired states one at a time: each is verified against the pinned root (DesiredIntake),
 * planned with the pure planner, then its steps run through the executor map. Each apply has an AbortSignal; a newer desired
 * state aborts the apply in progress where the lifecycle allows it, and the loop plans the newer one.
 */
export class Updater {
  private readonly journal: UpdateJournal;
  private readonly reporter: StatusReporter;
  private readonly download: ArtifactDownload;
  private readonly loader: ModelLoader;
  private readonly steps: UpdateSteps;
  private readonly intake: DesiredIntake;
  private pending?: VerifiedDesired;
  private apply?: { readonly target?: VerifiedDesired; readonly controller: AbortController };
  private running?: Promise<void>;
  /** Digests of the models in the slots (refreshed at each plan): those are never downloaded. */
  private held = new Set<string>();

  constructor(
    config: AgentConfig,
    trust: TrustSource,
    nodeId: string,
    private readonly slots: SlotStore,
    private readonly holder: SessionHolder,
    engines: ReadonlyMap<string, InferenceEngine>,
    stats: InferenceStats,
    private readonly ports: UpdaterPorts,
  ) {
    this.journal = new UpdateJournal(config.stateDir, nodeId, ports.log);
    this.reporter = new StatusReporter(this.journal, ports.report, ports.log);
    this.download = new ArtifactDownload(config, ports.requestChunks, ports.log);
    this.loader = new ModelLoader(trust, slots, holder, engines);
    this.intake = new DesiredIntake({ trust, nodeId, journal: this.journal, holder, loader: this.loader, reporter: this.reporter, ports });
    const shadow = shadowStepSettings(config, ports.shadow);
    this.steps = new UpdateSteps({ config, journal: this.journal, reporter: this.reporter, download: this.download, loader: this.loader, slots, holder, engines, stats, shadow, log: ports.log });
  }

  get phase(): string {
    return this.journal.record.phase;
  }

  /** Loads the persisted record and the active model (re-verified), then resumes any update. */
  async start(): Promise<void> {
    const record = await this.journal.load();
    this.intake.restoreFloor(record);
    await this.loader.loadActive().catch((error: unknown) => {
      // A key the active model's manifest needed was revoked: not served, but the agent keeps running,
      // so the re-signed copy the control plane publishes can restore it (adoptSignatures).
      if (!(error instanceof TrustError)) throw error;
      this.ports.log('error', 'the active model is no longer trusted under the current root; not serving it until a re-signed copy arrives', { reason: error.reason, detail: error.message });
    });
    this.held = new Set(await this.slots.heldSha256s());
    if (record.desired) this.pending = this.intake.verify(record.desired, false);
    if (this.pending) this.prepareDownload(this.pending);
    this.kick();
  }

  /** A desired state from the broker: verified here, applied by the loop; refused ones are reported. */
  onDesired(message: DesiredStateMessage): void {
    const verified = this.intake.verify(message, true);
    if (!verified) return;
    this.pending = verified;
    this.prepareDownload(verified);
    // A newer deployment pre-empts the apply in progress, whatever its step: the loop then plans the
    // newer one (abandoning an activation or soak first, which rolls back to the model before it).
    const apply = this.apply;
    if (apply && apply.target?.state.deploymentId !== verified.state.deploymentId) apply.controller.abort(new Superseded());
    this.kick();
  }

  /**
   * The root moved on: a desired state refused under the old root (signed by keys only the new one
   * lists, or refused because the old root had expired) is verified again.
   */
  retryUnderNewRoot(): void {
    const message = this.intake.takeRefusedUnderRoot();
    if (message) this.onDesired(message);
  }

  onChunk(sha256: string, index: number, data: Buffer): void {
    this.download.onChunk(sha256, index, data);
  }

  /** The control plane stored the status with this seq. */
  statusAcknowledged(seq: number): void {
    this.reporter.acknowledged(seq);
  }

  /** The broker connection came or went (a download in progress asks again for what it lacks on reconnect). */
  connectionChanged(connected: boolean): void {
    this.download.connectionChanged(connected);
  }

  /** Sends every unacknowledged status again (on reconnect, and with heartbeats). */
  resendUnackedStatus(): Promise<void> {
    return this.reporter.resendUnacked();
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Opens the download store of a target that will be downloaded as soon as it is verified, so none of
   * its chunks is dropped, even if they come while the loop still finishes something else. Opening
   * is idempotent; a failure (no disk) is reported by the download step, which opens it again.
   */
  private prepareDownload(target: VerifiedDesired): void {
    const record = this.journal.record;
    const started = record.desired?.desired.signed.deploymentId === target.state.deploymentId && record.phase !== 'downloading';
    if (started || this.held.has(target.manifest.sha256)) return;
    this.download.open(downloadLayout(target)).catch((error: unknown) =>
      this.ports.log('warn', 'could not open the download store yet', { deploymentId: target.state.deploymentId, err: error instanceof Error ? error.message : String(error) }),
    );
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.loop()
      .catch((error: unknown) => this.ports.log('error', 'the update loop stopped', { err: error instanceof Error ? error.message : String(error), stack: error instanceof Error ? error.stack : undefined }))
      .finally(() => {
        this.running = undefined;
      });
  }

  /**
   * One apply at a time, planned again after each until nothing is left to do (an abandoned update is
   * followed by the newer one; a desired state that arrives meanwhile is planned next). A target planned
   * too many times without finishing stops the loop rather than spinning.
   */
  private async loop(): Promise<void> {
    let rounds = 0;
    let planned: VerifiedDesired | undefined;
    for (;;) {
      const target = this.pending;
      rounds = target === planned ? rounds + 1 : 1;
      planned = target;
      if (rounds > MAX_PLANS_PER_TARGET) {
        this.ports.log('error', 'the update plan does not converge; waiting for a new desired state', { deploymentId: target?.state.deploymentId ?? null, phase: this.journal.record.phase });
        return;
      }
      const installed = await readInstalled(this.slots);
      this.held = new Set(installed.held);
      // The freshness floor is on disk before anything is done for the target it admitted.
      if (target && target.issuedAt > (this.journal.record.newestIssued ?? -Infinity)) await this.journal.save({ newestIssued: target.issuedAt });
      const record = this.journal.record;
      const steps = planUpdate(currentState(record, installed), desiredTarget(target, this.holder.model, record.installed));
      if (steps.length === 0) {
        if (this.pending !== target) continue; // a newer one arrived meanwhile: plan it
        await this.download.removeAll(); // nothing in flight
        return;
      }
      // `abandon` and `rollback` finish the recorded update first; `confirm` only reports (no phase change).
      const starting = steps[0] !== 'abandon' && steps[0] !== 'rollback' && steps[0] !== 'confirm';
      if (target && starting && record.desired?.desired.signed.deploymentId !== target.state.deploymentId) {
        await this.journal.transition('desired', { desired: target.message, stagedSlot: undefined, previousSlot: installed.active?.slot ?? null, failure: undefined });
      }
      const controller = new AbortController();
      this.apply = { target, controller };
      // A newer deployment that came while this plan was made found no apply to abort: abort it now.
      if (this.pending?.state.deploymentId !== target?.state.deploymentId) controller.abort(new Superseded());
      try {
        // `latest`: a re-signed copy of the same deployment does not abort the apply; the shadow step reads its decision.
        await this.steps.run(steps, { target, signal: controller.signal, latest: () => this.pending });
      } finally {
        this.apply = undefined;
      }
    }
  }
}
