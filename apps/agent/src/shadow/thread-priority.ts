import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { constants, setPriority } from 'node:os';

/**
 * The shadow candidate's thread gives the CPU to serving at once: its runs are best-effort work beside
 * serving, and their figures are ratios against the reference run on the same thread, so they do not
 * need the CPU at any given moment. bench/shadow-cost.ts, p99 with shadow on / off at `sampleRate` 0.05
 * (docs/rollouts.md): 1.32–1.54× at nice 0, where the kernel shared the cores fairly and each sample's two
 * engine runs held up the requests that arrived meanwhile; 1.12–1.21× at nice 19, where a woken request
 * thread still waited out part of the candidate's time slice; 0.96–1.10× as SCHED_IDLE, which the kernel
 * preempts the moment any other thread wants its core. The candidate is not starved: an idle core, or
 * a sliver of a busy one, runs a sample's ~1 ms of work well within its 5 s bound.
 *
 * Node has no binding for sched_setscheduler, so SCHED_IDLE is set with util-linux's `chrt` (a Debian
 * essential package; an unprivileged thread may make itself SCHED_IDLE, sched(7)). Nice 19 comes first,
 * and stays where `chrt` is missing.
 *
 * Returns what could not be done, for the agent to log; undefined when the thread is SCHED_IDLE.
 */
export function lowerThisThreadPriority(): string | undefined {
  let tid: number;
  try {
    // Linux keeps a niceness and a policy per thread: the thread id (the last part of /proc/thread-self's
    // target) changes this thread only, not the agent's serving thread.
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid, constants.priority.PRIORITY_LOW);
  } catch (error) {
    return `could not lower its priority: ${error instanceof Error ? error.message : String(error)}`;
  }
  const chrt = spawnSync('chrt', ['--idle', '--pid', '0', String(tid)], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5_000, encoding: 'utf8' });
  if (chrt.error || chrt.status !== 0) return `runs at nice 19, not SCHED_IDLE: chrt ${chrt.error?.message ?? `exited ${chrt.status ?? chrt.signal}: ${chrt.stderr.trim().slice(0, 200)}`}`;
  return undefined;
}
