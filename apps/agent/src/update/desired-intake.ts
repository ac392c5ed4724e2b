import type { DesiredStateMessage } from '#protocol';
import type { SessionHolder } from '#inference';
import type { TrustSource } from '../state/trusted-root.js';
import { DesiredStateRefused, issuedTime, verifyDesired, type VerifiedDesired } from './desired.js';
import type { UpdateJournal } from './journal.js';
import type { ModelLoader } from './model-loader.js';
import type { UpdaterPorts } from './ports.js';
import type { StatusReporter } from './status-reporter.js';
import { trustReason } from './step-failure.js';
import type { UpdateRecord } from './update-record.js';

export interface DesiredIntakeDeps {
  readonly trust: Pick<TrustSource, 'current' | 'expired'>;
  readonly nodeId: string;
  /** The update record: the recorded desired state and the installed sequences are the floor's. */
  readonly journal: Pick<UpdateJournal, 'record'>;
  /** The release that serves: asking for exactly it skips the sequence check. */
  readonly holder: Pick<SessionHolder, 'model'>;
  readonly loader: Pick<ModelLoader, 'adoptSignatures'>;
  readonly reporter: Pick<StatusReporter, 'report'>;
  readonly ports: Pick<UpdaterPorts, 'log' | 'adoptResultsPolicy' | 'adoptReferenceStats'>;
}

/**
 * Where every desired state comes in (from the broker, from the update record, again after a root
 * rotation): verified against the pinned root and this node's floor, refusals logged and reported, and
 * what a verified one carries besides the target (signatures, results policy, reference statistics)
 * handed on. The Updater applies what this accepts; it never sees a refused document.
 */
export class DesiredIntake {
  /** The latest desired state refused for a reason a newer root can change (signatures, expiry). */
  private refusedUnderRoot?: DesiredStateMessage;
  /** The freshness floor in memory, raised as soon as a desired state is accepted (persisted by the loop). */
  private newestIssued?: number;

  constructor(private readonly d: DesiredIntakeDeps) {}

  /** Sets the freshness floor from the record just loaded (before anything is verified). */
  restoreFloor(record: UpdateRecord): void {
    this.newestIssued = record.newestIssued ?? recordedIssued(record.desired);
  }

  /** The desired state refused under the previous root, if any, to verify again under the new one (taken once). */
  takeRefusedUnderRoot(): DesiredStateMessage | undefined {
    const message = this.refusedUnderRoot;
    this.refusedUnderRoot = undefined;
    return message;
  }

  /**
   * Verifies against the pinned root and this node's floor (see verifyDesired): only the recorded
   * document itself skips the freshness and sequence checks. A refusal is reported against its
   * deployment only when the document is genuine and current; a forged or replayed one is only logged.
   */
  verify(message: DesiredStateMessage, reportRefusal: boolean): VerifiedDesired | undefined {
    const record = this.d.journal.record;
    const floor = { recorded: record.desired?.desired, newestIssued: this.newestIssued, installed: record.installed, serving: this.d.holder.model };
    try {
      const verified = verifyDesired(message, this.d.trust.current, this.d.nodeId, floor);
      this.newestIssued = Math.max(verified.issuedAt, this.newestIssued ?? verified.issuedAt);
      this.adoptSignatures(verified);
      const { name, version, variant, sha256 } = verified.manifest;
      this.d.ports.adoptResultsPolicy?.({ name, version, variant, sha256 }, verified.state.resultsPolicy);
      this.d.ports.adoptReferenceStats?.({ name, version, variant, sha256 }, verified.manifest.referenceStats);
      return verified;
    } catch (error) {
      // A newer root can turn these into acceptance: keys only it lists, or it replaces an expired root.
      if (error instanceof DesiredStateRefused && (error.kind === 'unverified' || error.cause.reason === 'expired')) this.refusedUnderRoot = message;
      const report = reportRefusal && error instanceof DesiredStateRefused && error.reportable;
      this.logRefusal(message, error, report);
      if (report) {
        void this.d.reporter.report(error.deploymentId, 'rejected', { reason: trustReason(error.cause), detail: error.message });
      }
      return undefined;
    }
  }

  /** What the document claims is logged as claimed: an unverified one may name anything. */
  private logRefusal(message: DesiredStateMessage, error: unknown, reported: boolean): void {
    const claimed = message.desired.signed;
    const kind = error instanceof DesiredStateRefused ? error.kind : 'refused';
    const reason = error instanceof DesiredStateRefused ? trustReason(error.cause) : 'internal';
    const names = kind === 'unverified' ? { claimedDeploymentId: claimed.deploymentId } : { deploymentId: claimed.deploymentId };
    // Under an expired root every update is refused until a newer root comes: an operator must act.
    this.d.ports.log(this.d.trust.expired ? 'error' : 'warn', 'refused a desired state', {
      nodeId: this.d.nodeId,
      ...names,
      model: claimed.manifest.signed.name,
      version: claimed.manifest.signed.version,
      kind,
      reason,
      detail: error instanceof Error ? error.message : String(error),
      reported,
    });
  }

  /** A verified copy of the serving release re-signed under a newer root refreshes the active slot's record. */
  private adoptSignatures(verified: VerifiedDesired): void {
    this.d.loader.adoptSignatures(verified.state.manifest).then(
      (adopted) => {
        if (adopted) this.d.ports.log('info', 'the active model’s record now carries signatures the current root accepts', { deploymentId: verified.state.deploymentId, model: verified.manifest.name, version: verified.manifest.version });
      },
      (error: unknown) => this.d.ports.log('warn', 'could not refresh the active model’s signatures', { err: error instanceof Error ? error.message : String(error) }),
    );
  }
}

/** The floor an older agent's record implies: the `issued` of the desired state it recorded. */
function recordedIssued(desired: DesiredStateMessage | undefined): number | undefined {
  if (!desired) return undefined;
  try {
    return issuedTime(desired.desired.signed);
  } catch {
    return undefined;
  }
}
