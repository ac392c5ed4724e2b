// Longest suites first, on a fresh clone too. With two workers, a two-minute suite that starts last keeps
// one worker busy long after the other has finished: the run's tail. Jest orders suites by their previous
// durations, but only from its cache, which a fresh clone (CI) does not have; it then orders by file size,
// which says little (broker-restarts is a small file and the longest suite). So suites known to be slow
// carry an estimate here, used when the cache has no duration for them; the rest follow by file size.
import { relative } from 'node:path';
import TestSequencerModule from '@jest/test-sequencer';

const TestSequencer = TestSequencerModule.default ?? TestSequencerModule;

/**
 * Seconds per suite, roughly, from a full run on the 2-core CI machine (test/summary-reporter.js prints
 * them): only the order matters, so refresh it when a suite becomes one of the slowest or stops being one.
 */
export const KNOWN_SECONDS = {
  'test/e2e/broker-restarts.e2e.test.ts': 85,
  'test/e2e/agent-crash.e2e.test.ts': 60,
  'test/integration/replica-rollouts-kill.int.test.ts': 55,
  'pipeline/src/pipeline.int.test.ts': 50,
  'test/integration/rollout-worker-crash.int.test.ts': 45,
  'test/integration/redis-down-requests.int.test.ts': 40,
  'test/e2e/broken-canaries.e2e.test.ts': 40,
  'test/integration/distribution.int.test.ts': 35,
  'test/integration/rollouts.int.test.ts': 35,
  'test/integration/rollout-recovery.int.test.ts': 30,
  'test/e2e/agent-update.e2e.test.ts': 30,
};

export default class SlowFirstSequencer extends TestSequencer {
  sort(tests) {
    const failed = (test) => (this.hasFailed(test) ? 1 : 0);
    const seconds = (test) => {
      const cached = this.time(test);
      if (cached !== undefined) return cached / 1000;
      return KNOWN_SECONDS[relative(test.context.config.rootDir, test.path)];
    };
    const size = (test) => test.context.hasteFS.getSize(test.path) ?? 0;
    // As Jest's own sort does: its progress estimate reads the duration.
    for (const test of tests) {
      const known = seconds(test);
      if (known !== undefined) test.duration = known * 1000;
    }
    // Failed suites first (quick feedback, as Jest does), then known durations longest first, then by size.
    return [...tests].sort((a, b) => {
      if (failed(a) !== failed(b)) return failed(b) - failed(a);
      const [sa, sb] = [seconds(a), seconds(b)];
      if (sa !== undefined && sb !== undefined) return sb - sa;
      if (sa !== undefined || sb !== undefined) return sa !== undefined ? -1 : 1;
      return size(b) - size(a);
    });
  }
}
