import { describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

interface FakeTest {
  path: string;
  duration?: number;
  context: { config: { rootDir: string; cache: boolean }; hasteFS: { getSize(path: string): number } };
}
interface Sequencer {
  sort(tests: FakeTest[]): FakeTest[];
  /** Jest's per-context cache of [failed 0 / passed 1, milliseconds] by path, as read from its perf cache. */
  _cache: Map<unknown, Record<string, [number, number]>>;
}
interface SequencerModule {
  KNOWN_SECONDS: Record<string, number>;
  default: new (options: unknown) => Sequencer;
}

// A plain JS module (Jest loads the sequencer itself without a transform): typed here by hand.
const load = async () => (await import('./slow-first-sequencer.js' as string)) as SequencerModule;

const rootDir = resolve('.');
const sizes: Record<string, number> = { 'small.int.test.ts': 100, 'big.int.test.ts': 9000, 'test/e2e/agent-crash.e2e.test.ts': 50, 'test/e2e/broker-restarts.e2e.test.ts': 80 };
const context = { config: { rootDir, cache: false }, hasteFS: { getSize: (path: string) => sizes[path.slice(rootDir.length + 1)] ?? 0 } };
const fake = (path: string): FakeTest => ({ path: resolve(rootDir, path), context });
const names = (tests: FakeTest[]) => tests.map((t) => t.path.slice(rootDir.length + 1));

describe('slow-first test sequencer', () => {
  it('names only suites that exist (a renamed slow suite would silently lose its place)', async () => {
    const { KNOWN_SECONDS } = await load();
    expect(Object.keys(KNOWN_SECONDS).filter((path) => !existsSync(resolve(rootDir, path)))).toEqual([]);
  });

  it('without a duration cache, starts known-slow suites first, longest first, then the rest by file size', async () => {
    const { default: SlowFirstSequencer } = await load();
    const sorted = new SlowFirstSequencer({}).sort(['small.int.test.ts', 'test/e2e/agent-crash.e2e.test.ts', 'big.int.test.ts', 'test/e2e/broker-restarts.e2e.test.ts'].map(fake));
    expect(names(sorted)).toEqual(['test/e2e/broker-restarts.e2e.test.ts', 'test/e2e/agent-crash.e2e.test.ts', 'big.int.test.ts', 'small.int.test.ts']);
  });

  it("prefers Jest's cached durations, and puts a suite that failed last time first", async () => {
    const { default: SlowFirstSequencer } = await load();
    const sequencer = new SlowFirstSequencer({});
    const tests = ['small.int.test.ts', 'big.int.test.ts', 'test/e2e/broker-restarts.e2e.test.ts'].map(fake);
    // broker-restarts was quick last time (2 s): its measured duration wins over its estimate.
    sequencer._cache.set(context, {
      [resolve(rootDir, 'small.int.test.ts')]: [0, 1000],
      [resolve(rootDir, 'big.int.test.ts')]: [1, 500_000],
      [resolve(rootDir, 'test/e2e/broker-restarts.e2e.test.ts')]: [1, 2000],
    });
    expect(names(sequencer.sort(tests))).toEqual(['small.int.test.ts', 'big.int.test.ts', 'test/e2e/broker-restarts.e2e.test.ts']);
  });
});
