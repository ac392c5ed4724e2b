import { spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { constants, setPriority } from 'node:os';

/**
 * The shadow candidate's thread gives the CPU to serving at once: its runs are best-effort work beside
 * serving, and their figures are ratios against the reference run on the same thread, so they do not
 * need the CPU at any given moment. bench/shadow-cost.ts, p99 with shadow on / off at `sampleRate` 0.05
 * (docs/rollouts.md): 1.32–1.54× at nice 0, where the kernel shared the cores fairly and each sample's two
 * engine runs held up the requests that arrived meanwhile; 1.12–1.21× at nice 19, where a woken request
 * thread still waited out part of the candidate's time slice; 0.96–1.10× as SCHED_IDLE, which the kernel
 * preempts the moment any other thread wants its core. On a busy device the candidate gets little CPU: its
 * samples come slower (more are `skipped`), runs are timed by their time on the CPU (`runQueueWaitMs`),
 * and a sample timed out for want of CPU is not the candidate's error (ShadowEvaluator, `threadCpuMs`).
 *
 * Node has no binding for sched_setscheduler, so SCHED_IDLE is set with util-linux's `chrt` (a Debian
 * essential package; an unprivileged thread may make itself SCHED_IDLE, sched(7)). Nice 19 comes first,
 * and stays where `chrt` is missing.
 *
 * Returns what could not be done, for the agent to log; undefined when the thread is SCHED_IDLE.
 */
export function lowerThisThreadPriority(): string | undefined {
  let tid: number | undefined;
  try {
    // Linux keeps a niceness and a policy per thread: the thread id changes this thread only, not the
    // agent's serving thread.
    tid = currentThreadId();
    if (tid === undefined) return 'could not lower its priority: no thread id in /proc/thread-self';
    setPriority(tid, constants.priority.PRIORITY_LOW);
  } catch (error) {
    return `could not lower its priority: ${error instanceof Error ? error.message : String(error)}`;
  }
  const chrt = spawnSync('chrt', ['--idle', '--pid', '0', String(tid)], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5_000, encoding: 'utf8' });
  if (chrt.error || chrt.status !== 0) return `runs at nice 19, not SCHED_IDLE: chrt ${chrt.error?.message ?? `exited ${chrt.status ?? chrt.signal}: ${chrt.stderr.trim().slice(0, 200)}`}`;
  return undefined;
}

/** The calling thread's id (Linux: the last part of /proc/thread-self's target), or undefined elsewhere. */
export function currentThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** This process's thread `tid`'s /proc/self/task/<tid>/schedstat: ns on a CPU, ns waiting for one, timeslices. */
function schedstat(tid: number | 'thread-self'): number[] | undefined {
  try {
    const path = tid === 'thread-self' ? '/proc/thread-self/schedstat' : `/proc/self/task/${tid}/schedstat`;
    const fields = readFileSync(path, 'utf8').split(' ').map(Number);
    return fields.length >= 2 && fields.every(Number.isFinite) ? fields : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The CPU time thread `tid` of this process has had, in ms; undefined where there is no schedstat. Up
 * to a scheduler tick stale for a running thread: fine for telling a starved run from a slow one
 * after seconds, not for timing one run.
 */
export function threadCpuMs(tid: number): number | undefined {
  const fields = schedstat(tid);
  return fields ? (fields[0] as number) / 1e6 : undefined;
}

/**
 * How long the calling thread has waited, runnable, for a CPU so far, in ms (exact: the kernel adds each
 * wait when the thread gets a CPU back); undefined where there is no schedstat. A run's wall time less
 * the wait accrued during it is its time on the CPU: as SCHED_IDLE the candidate's runs are preempted
 * whenever anything else wants the core, and wall time alone read an equal model as 2.1× slower on a
 * busy machine.
 */
export function runQueueWaitMs(): number | undefined {
  const fields = schedstat('thread-self');
  return fields ? (fields[1] as number) / 1e6 : undefined;
}
