import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runCrashCampaign } from '../helpers/crash-campaign.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

/**
 * 20 runs kill the agent once at each of the ten failpoints and ten times at random instants: what
 * `npm test` affords (each run moves a 2 MB artifact). A longer campaign:
 * `CRASH_RUNS=200 npm test -- test/e2e/agent-crash.e2e.test.ts`.
 */
const RUNS = Number(process.env['CRASH_RUNS'] ?? 20);

describe(`fault injection: kill -9 at every step of an update and at random instants, ${RUNS} runs`, () => {
  let broker: TestBroker;
  let t: TestApp;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '20' });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await broker?.stop();
  });

  it('always comes back serving exactly one complete, signature-valid model that the heartbeat names', async () => {
    const result = await runCrashCampaign(t, RUNS);
    console.log(`kill -9 runs: ${result.runs}; phase at the kill: ${JSON.stringify(result.phasesAtKill)}; final ${result.finalVersion}`);
    expect(result.violations).toEqual([]);
    expect(result.failedUpdates).toEqual([]);
  }, 600_000);
});
