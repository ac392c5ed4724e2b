import { join } from 'node:path';
import type { DeploymentState, DesiredStateMessage, FailureReason } from '#protocol';
import { readJsonFile, writeJsonAtomic } from '../state/atomic-file.js';
import type { SlotName } from '../state/slots.js';
import type { Phase } from './lifecycle.js';

/** The update in progress, persisted atomically before every side effect (`update.json`). */
export interface UpdateRecord {
  readonly phase: Phase;
  /** The verified desired-state message being applied. */
  readonly desired?: DesiredStateMessage;
  /** The slot that served before this update (the rollback target); null when none did. */
  readonly previousSlot?: SlotName | null;
  readonly stagedSlot?: SlotName;
  /** Highest committed manifest sequence per model name: the rollback protection floor (never lowered). */
  readonly installed: Readonly<Record<string, number>>;
  /**
   * The newest `issued` (ms since the epoch) of any desired state this node accepted: the freshness
   * floor, never lowered. Absent in records of older agents: the recorded desired state's `issued` stands in.
   */
  readonly newestIssued?: number;
  /**
   * Serving keys (`<sha256>:<digest of the serving-relevant manifest fields>`, see servingKey) of the
   * models this node has committed (newest last, bounded): known good here, no soak again. Entries from
   * older agents (a bare sha256) never match, which costs at most one more soak.
   */
  readonly knownGood?: readonly string[];
  /** Node-scoped status sequence, persisted so it keeps increasing across restarts. */
  readonly statusSeq: number;
  /** How many times the current step has been started: a guard against crash loops. */
  readonly stepStarts: number;
  readonly failure?: { readonly reason: FailureReason; readonly detail: string };
  /**
   * Statuses sent and not yet acknowledged (oldest first, bounded): re-sent (same seq) on reconnect and
   * with heartbeats until the control plane acknowledges each one, so a status a control-plane replica
   * lost in a crash (after the broker's PUBACK, before its database write) still arrives — the
   * intermediate ones too, not only the outcome. Acknowledgements are kept in memory: after a restart
   * the agent sends them once more, which the control plane stores once (node_id, seq) and acknowledges.
   */
  readonly pendingStatuses?: readonly ReportedStatus[];
  /** Written by older agents: their one unacknowledged status (read as `pendingStatuses` of one). */
  readonly lastStatus?: ReportedStatus;
}

export interface ReportedStatus {
  readonly deploymentId: string;
  readonly seq: number;
  readonly state: DeploymentState;
  readonly reason?: FailureReason;
  readonly detail?: string;
  readonly progress?: number;
}

export const INITIAL_RECORD: UpdateRecord = { phase: 'idle', installed: {}, statusSeq: 0, stepStarts: 0 };

export class UpdateRecordFile {
  constructor(private readonly stateDir: string) {}

  private get path(): string {
    return join(this.stateDir, 'update.json');
  }

  async load(): Promise<UpdateRecord> {
    return (await readJsonFile<UpdateRecord>(this.path)) ?? INITIAL_RECORD;
  }

  save(record: UpdateRecord): Promise<void> {
    return writeJsonAtomic(this.path, record);
  }
}

/**
 * The record after `changes`, with its floors kept: an installed sequence or the newest accepted
 * `issued` is never written lower than the one recorded, whatever a caller passes. Pure.
 */
export function mergeRecord(current: UpdateRecord, changes: Partial<UpdateRecord>): UpdateRecord {
  const next = { ...current, ...changes };
  const installed: Record<string, number> = { ...current.installed };
  for (const [name, sequence] of Object.entries(next.installed)) installed[name] = Math.max(sequence, installed[name] ?? sequence);
  const issued = [current.newestIssued, next.newestIssued].filter((at): at is number => at !== undefined);
  return { ...next, installed, ...(issued.length > 0 ? { newestIssued: Math.max(...issued) } : {}) };
}
