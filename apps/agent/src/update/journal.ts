import type { LogFn } from './ports.js';
import { type LifecycleEvent, nextPhase } from './lifecycle.js';
import { StepFailure } from './step-failure.js';
import { INITIAL_RECORD, mergeRecord, type UpdateRecord, UpdateRecordFile } from './update-record.js';

const MAX_STEP_STARTS = 3;

/**
 * The update record and the only way to change it: every change is written atomically before the side
 * effect it announces, and every lifecycle transition goes through the transition table and is logged.
 */
export class UpdateJournal {
  private current: UpdateRecord = INITIAL_RECORD;
  private readonly file: UpdateRecordFile;

  constructor(
    stateDir: string,
    private readonly nodeId: string,
    private readonly log: LogFn,
  ) {
    this.file = new UpdateRecordFile(stateDir);
  }

  get record(): UpdateRecord {
    return this.current;
  }

  async load(): Promise<UpdateRecord> {
    this.current = await this.file.load();
    return this.current;
  }

  /** Writes the changes atomically; the rollback floors (installed sequences, newest issued) only rise. */
  async save(changes: Partial<UpdateRecord>): Promise<void> {
    const next = mergeRecord(this.current, changes);
    await this.file.save(next);
    this.current = next;
  }

  /** Moves the lifecycle on `event` (IllegalTransitionError if the table has no such edge). */
  async transition(event: LifecycleEvent, changes: Partial<UpdateRecord> = {}): Promise<void> {
    const from = this.current.phase;
    await this.save({ ...changes, phase: nextPhase(from, event), stepStarts: 0 });
    const manifest = this.current.desired?.desired.signed.manifest.signed;
    this.log('info', 'update transition', {
      nodeId: this.nodeId,
      deploymentId: this.current.desired?.desired.signed.deploymentId ?? null,
      model: manifest?.name ?? null,
      version: manifest?.version ?? null,
      event,
      from,
      to: this.current.phase,
      ...(this.current.failure && this.current.phase !== 'idle' ? { reason: this.current.failure.reason, detail: this.current.failure.detail } : {}),
    });
  }

  /** Counts a start of the current step; a step started too often (a crash loop) fails instead. */
  async guardCrashLoop(): Promise<void> {
    const starts = this.current.stepStarts + 1;
    await this.save({ stepStarts: starts });
    if (starts > MAX_STEP_STARTS) throw new StepFailure('crash-loop', `step '${this.current.phase}' started ${starts} times`);
  }
}
