/**
 * Loaded into a server with `--import` (bench/agent-http.ts: EXTRA_NODE_ARGS="--import ./dist/bench/gc-observer.js"
 * GC_DIR=<dir>): counts its young- and old-generation collections and their pauses, and rewrites
 * `<dir>/<pid>-<script>.json` every second. Two servers handling the same requests compare by how often
 * they collect (what they allocate per request) and how long each young collection pauses (what is live).
 */
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';

const dir = process.env['GC_DIR'] ?? '/tmp';
const file = join(dir, `${process.pid}-${basename(process.argv[1] ?? 'node')}.json`);
const minorPauses: number[] = [];
let majorCount = 0;
let majorMs = 0;

new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minorPauses.push(entry.duration);
    else {
      majorCount++;
      majorMs += entry.duration;
    }
  }
}).observe({ entryTypes: ['gc'] });

setInterval(() => {
  const sorted = [...minorPauses].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const minorMs = sorted.reduce((sum, d) => sum + d, 0);
  writeFileSync(file, `${JSON.stringify({ minor: sorted.length, minorMs, minorP50: at(0.5), minorP90: at(0.9), minorMax: at(1), major: majorCount, majorMs })}\n`);
}, 1000).unref();
