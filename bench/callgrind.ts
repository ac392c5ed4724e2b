/**
 * Instructions per request, counted by valgrind's callgrind: unlike wall-clock and CPU time, the count
 * does not move with the load other processes put on the machine. A server runs `under` callgrind; its
 * counters are zeroed after a warm-up and dumped after the measured requests (callgrind_control talks to
 * the running process), one file per thread (--separate-threads). The main thread's count is the
 * JavaScript path; the other threads' include ONNX Runtime's workers, which spin between runs, so their
 * count follows timing and is less repeatable.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface InstructionCount {
  /** Instructions of the main (JavaScript) thread. */
  readonly main: number;
  /** Instructions of every thread. */
  readonly all: number;
}

/** Whether valgrind and callgrind_control can be run here. */
export function callgrindAvailable(): boolean {
  return spawnSync('valgrind', ['--version']).status === 0 && spawnSync('callgrind_control', ['-h']).error === undefined;
}

/**
 * The command line prefix that runs a program under callgrind, writing its dumps to `dir`. JIT code lives
 * on V8's heap, so self-modifying code is checked everywhere but in files.
 */
export function callgrindPrefix(dir: string): string[] {
  return [
    'valgrind',
    '--tool=callgrind',
    '--separate-threads=yes',
    '--smc-check=all-non-file',
    `--callgrind-out-file=${join(dir, 'callgrind.out.%p')}`,
    `--log-file=${join(dir, 'valgrind.%p.log')}`,
  ];
}

/** Starts a fresh count in the process `pid` (it runs under callgrindPrefix). */
export async function zeroCounters(pid: number): Promise<void> {
  await run('callgrind_control', ['-z', String(pid)]);
}

/**
 * Dumps the counts since the last zeroing and sums them. The first dump of a process is part 1, written
 * as `callgrind.out.<pid>.1-<thread>`; thread 01 is the main thread.
 */
export async function dumpCounters(pid: number, dir: string, part = 1): Promise<InstructionCount> {
  await run('callgrind_control', ['-d', String(pid)]);
  const prefix = `callgrind.out.${pid}.${part}-`;
  const files = (await readdir(dir)).filter((f) => f.startsWith(prefix));
  if (files.length === 0) throw new Error(`callgrind wrote no ${prefix}* in ${dir}`);
  let main = 0;
  let all = 0;
  for (const file of files) {
    const text = await readFile(join(dir, file), 'utf8');
    const total = /^(?:totals|summary): (\d+)/m.exec(text)?.[1];
    if (total === undefined) throw new Error(`no totals in ${file}`);
    all += Number(total);
    if (file === `${prefix}01`) main = Number(total);
  }
  return { main, all };
}
