/**
 * Where in a round the slow requests of `bench/agent-http.ts` fall: reads the file it writes with
 * LATENCY_DIR (`latencies-c<concurrency>.json`: per round, each target's latencies in order) and prints,
 * per target, how many requests above the pooled p99 fall in each stretch of `bin` requests of a round.
 * The agent closes a results batch every 1,000 of its requests (each round starts with an empty one), so
 * its batch cuts sit at 1,000 and 2,000 of a 2,500-request round, and their acknowledgements ~300 later.
 *   LATENCY_DIR=/tmp/lat node dist/bench/agent-http.js && node dist/bench/latency-positions.js /tmp/lat/latencies-c1.json [bin=50]
 */
import { readFile } from 'node:fs/promises';

const [file, binArg] = process.argv.slice(2);
if (!file) throw new Error('usage: node dist/bench/latency-positions.js <latencies-c1.json> [bin=50]');
const bin = Number(binArg ?? 50);
const rounds = JSON.parse(await readFile(file, 'utf8')) as Record<string, number[]>[];
const targets = Object.keys(rounds[0] ?? {});
for (const target of targets) {
  const all = rounds.flatMap((round) => round[target] ?? []).sort((a, b) => a - b);
  const p99 = all[Math.floor(0.99 * all.length)] ?? 0;
  const counts: number[] = [];
  for (const round of rounds) {
    (round[target] ?? []).forEach((ms, i) => {
      if (ms > p99) counts[Math.floor(i / bin)] = (counts[Math.floor(i / bin)] ?? 0) + 1;
    });
  }
  console.log(`${target.padEnd(6)} p99 ${p99.toFixed(3)} ms; requests above it per ${bin} of a round: ${Array.from(counts, (n) => n ?? 0).join(' ')}`);
}
