import { MultiBar, type SingleBar } from 'cli-progress';
import { nodePhase } from '#api-client';
import type { RolloutSnapshot } from './rollout-source.js';

/** Rollout states after which nothing moves without an operator; `completed` is the only success. */
export const FINISHED_STATES = new Set(['completed', 'halted', 'aborted', 'superseded']);
/**
 * What an operator can do about a rollout that ended without completing. Only a halted one resumes;
 * aborted and superseded ones are over (resume is refused with 409), so their hint names what is left.
 * A rollback is offered only while some node runs the rollout's version (`serving`).
 */
export function unfinishedHint(state: string, id: string, nodes: Pick<WatchSummary, 'serving' | 'reverting'>): string {
  if (state === 'halted') {
    const fix = `look at the failed nodes (\`rollouts nodes ${id} --failed\`), fix the cause, then \`rollouts resume ${id}\``;
    if (nodes.serving > 0) return `${fix}, or \`rollouts rollback ${id}\` to return its nodes`;
    // A rollback returns nodes that run the rollout's version: with none (a shadow gate stops a wave before
    // any node activates), offering it would send the operator to a command that does nothing.
    return nodes.reverting > 0 ? `${fix}; its nodes are being returned to their previous version` : `${fix}; no node serves its version, so there is nothing to roll back`;
  }
  if (state === 'aborted') {
    const next = 'it was stopped for good and cannot resume: create a new rollout (`rollouts create`)';
    return nodes.serving > 0 ? `${next}; if the abort did not return its nodes, \`rollouts rollback ${id}\` can` : next;
  }
  if (state === 'superseded') return 'a newer rollout took over its nodes: follow that one (`rollouts ls`)';
  return `look at it with \`rollouts get ${id}\``;
}

/** The event a finished state is stored with (in the same transaction); `superseded` has none. */
const TERMINAL_EVENT: Readonly<Record<string, string>> = { completed: 'rollout.completed', halted: 'rollout.halted', aborted: 'rollout.aborted' };

/**
 * What the watch does after a snapshot: `follow` an unfinished rollout; `done` when it is finished and
 * the event that finished it has been seen (or cannot come: finished before the watch began, the first
 * snapshot; or a state without an event); else `await-event`, which is on its way since it committed with
 * the state the snapshot read after the stream was open.
 */
export function watchStep(state: string, first: boolean, seenTypes: ReadonlySet<string>): 'follow' | 'await-event' | 'done' {
  if (!FINISHED_STATES.has(state)) return 'follow';
  const awaited = TERMINAL_EVENT[state];
  return first || !awaited || seenTypes.has(awaited) ? 'done' : 'await-event';
}

/** Node states that count as done for a wave's bar. */
const NODE_DONE = new Set(['succeeded', 'failed', 'superseded', 'reverted', 'revert-failed']);

export interface WaveSummary {
  readonly wave: number;
  readonly planned: number;
  readonly done: number;
  /** Nodes per phase: the phase the node last reported (or its shadow stage), else its rollout state. */
  readonly phases: Record<string, number>;
}

/** A node's phases in which it runs the rollout's version (unless a revert is what it reports on). */
const SERVING_PHASES = new Set(['activated', 'committed']);
/** Rollout states in which a node's phase is of the rollout's own delivery, not of a revert. */
const OWN_DELIVERY = new Set(['dispatched', 'retry-wait', 'failed']);

/**
 * Whether a node runs the rollout's version now: it succeeded, or it activated it and has not been sent
 * back (a node that timed out in its soak is `retry-wait` or `failed` and may still run it).
 */
const runsVersion = (n: RolloutSnapshot['nodes'][number]) => n.state === 'succeeded' || (OWN_DELIVERY.has(n.state) && SERVING_PHASES.has(n.phase ?? ''));

export interface WatchSummary {
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly currentWave: number;
  readonly haltReason: string | null;
  readonly waves: WaveSummary[];
  readonly failures: { node: string; reason: string | null; detail: string | null }[];
  /** Nodes a halted shadow wave told to drop the candidate that have not confirmed yet. */
  readonly abandoning: string[];
  /** Nodes running the rollout's version now: what a rollback would return. */
  readonly serving: number;
  /** Nodes being returned to their previous version (a rollback under way). */
  readonly reverting: number;
  /** The stream events (id and type) this summary was read after: none for the first. */
  readonly events: { id: string; type: string }[];
}

/** What a summary reads of a snapshot (the fields watch draws). */
export interface SummaryInput {
  readonly rollout: Pick<RolloutSnapshot['rollout'], 'id' | 'name' | 'state' | 'currentWave' | 'haltReason'> & {
    readonly waves: readonly Pick<RolloutSnapshot['rollout']['waves'][number], 'wave' | 'planned'>[];
  };
  readonly nodes: RolloutSnapshot['nodes'];
  readonly events?: readonly Pick<RolloutSnapshot['events'][number], 'id' | 'type'>[];
}

/** The snapshot reduced to what is drawn (and printed as one JSON line per snapshot with --json). */
export function summarise({ rollout, nodes, events = [] }: SummaryInput): WatchSummary {
  const waves = rollout.waves.map(({ wave, planned }) => {
    const inWave = nodes.filter((n) => n.wave === wave);
    const phases: Record<string, number> = {};
    for (const n of inWave) {
      const phase = n.state === 'dispatched' ? (nodePhase(n) ?? 'dispatched') : n.state;
      phases[phase] = (phases[phase] ?? 0) + 1;
    }
    return { wave, planned, done: inWave.filter((n) => NODE_DONE.has(n.state)).length, phases };
  });
  const failures = nodes.filter((n) => n.state === 'failed').map((n) => ({ node: n.nodeName, reason: n.failure?.reason ?? n.reason, detail: n.failure?.detail ?? null }));
  // A halted shadow wave's nodes are told to drop the candidate after the halt: named until they confirm.
  const abandoning = nodes.filter((n) => n.state === 'dispatched' && n.shadow === 'abandon' && !SERVING_PHASES.has(n.phase ?? '')).map((n) => n.nodeName);
  return {
    id: rollout.id,
    name: rollout.name,
    state: rollout.state,
    currentWave: rollout.currentWave,
    haltReason: rollout.haltReason,
    waves,
    failures,
    abandoning,
    serving: nodes.filter(runsVersion).length,
    reverting: nodes.filter((n) => n.state === 'reverting').length,
    events: events.map(({ id, type }) => ({ id, type })),
  };
}

const phasesText = (phases: Record<string, number>) =>
  Object.entries(phases)
    .map(([phase, n]) => `${phase} ${n}`)
    .join(', ') || 'waiting';

/** Where the watch draws: progress bars on a terminal, plain lines elsewhere. */
interface WatchOutput {
  /** A line above the bars (events, state changes, notes). */
  log(line: string): void;
  wave(wave: number, planned: number, done: number, phases: string): void;
  stop(): void;
}

/** One progress bar per wave, redrawn in place. */
class BarsOutput implements WatchOutput {
  private readonly bars = new MultiBar({ format: 'wave {wave} [{bar}] {value}/{total} {phases}', stream: process.stderr, hideCursor: true, clearOnComplete: false });
  private readonly waveBars = new Map<number, SingleBar>();

  log(line: string): void {
    this.bars.log(`${line}\n`);
  }

  wave(wave: number, planned: number, done: number, phases: string): void {
    const bar = this.waveBars.get(wave);
    if (!bar) return void this.waveBars.set(wave, this.bars.create(Math.max(1, planned), done, { wave, phases }));
    bar.setTotal(Math.max(1, planned));
    bar.update(done, { wave, phases });
  }

  stop(): void {
    // stop() draws the bars but not the lines logged since the last redraw: draw once more first.
    this.bars.update();
    this.bars.stop();
  }
}

/**
 * Off a terminal (a CI log, a pipe) nothing can be redrawn in place: a wave's line is written when it
 * changes, never repeated on a timer.
 */
class LinesOutput implements WatchOutput {
  private readonly lastWaveLine = new Map<number, string>();

  log(line: string): void {
    process.stderr.write(`${line}\n`);
  }

  wave(wave: number, planned: number, done: number, phases: string): void {
    const line = `wave ${wave}: ${done}/${Math.max(1, planned)} ${phases}`;
    if (this.lastWaveLine.get(wave) === line) return;
    this.lastWaveLine.set(wave, line);
    this.log(line);
  }

  stop(): void {}
}

/** One progress bar (or, off a terminal, a line when it changes) per wave and a line per rollout event, on stderr (stdout stays for --json). */
export class WatchView {
  private readonly output: WatchOutput;
  private readonly seenEvents = new Set<string>();
  private state = '';

  constructor(terminal = process.stderr.isTTY === true) {
    this.output = terminal ? new BarsOutput() : new LinesOutput();
  }

  render(snapshot: RolloutSnapshot): WatchSummary {
    const summary = summarise(snapshot);
    this.logEvents(snapshot);
    if (summary.state !== this.state) this.output.log(`rollout ${summary.name}: ${summary.state}`);
    this.state = summary.state;
    for (const wave of summary.waves) this.output.wave(wave.wave, wave.planned, wave.done, phasesText(wave.phases));
    return summary;
  }

  private logEvents({ rollout }: RolloutSnapshot): void {
    for (const event of rollout.events) {
      if (this.seenEvents.has(event.id)) continue;
      this.seenEvents.add(event.id);
      const detail = Object.keys(event.detail).length > 0 ? ` ${JSON.stringify(event.detail)}` : '';
      this.output.log(`${event.at} ${event.kind}${detail}`);
    }
  }

  /** A line above the bars (reconnect notes). */
  note(text: string): void {
    this.output.log(text);
  }

  /**
   * Draws the last state and each failed node's reason. The rollout's own end (state and reason) is left
   * to the command's error line, so it is printed once.
   */
  finish(summary: WatchSummary): void {
    this.output.stop();
    if (summary.state === 'completed') return void process.stderr.write(`rollout ${summary.name} completed\n`);
    for (const f of summary.failures) process.stderr.write(`  node ${f.node}: ${f.reason ?? 'failed'}${f.detail ? ` — ${f.detail}` : ''}\n`);
    for (const node of summary.abandoning) process.stderr.write(`  node ${node}: abandoning — told to drop the candidate; it keeps serving its model\n`);
  }
}
