/**
 * The crash campaign of test/e2e/agent-crash.e2e.test.ts at a larger scale: a real agent, a real control
 * plane and broker, N updates each interrupted by kill -9 (half at named failpoints, half at random).
 *   npm run bench:build && node dist/bench/agent-crash.js [runs=200]
 * Prints where the kills landed, any run after which the agent did not serve the previous or the new
 * model, and any update that failed; exits 1 if there was one.
 */
import 'reflect-metadata';
import { runCrashCampaign } from '../test/helpers/crash-campaign.js';
import { startTestApp } from '../test/helpers/test-app.js';
import { startTestBroker } from '../test/helpers/test-broker.js';

const RUNS = Number(process.argv[2] ?? 200);
const broker = await startTestBroker();
const t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '20' });
const started = Date.now();
try {
  const result = await runCrashCampaign(t, RUNS);
  console.log(`kill -9 runs: ${result.runs} in ${((Date.now() - started) / 1000).toFixed(0)} s; final version ${result.finalVersion}`);
  console.log(`phase at the kill: ${JSON.stringify(result.phasesAtKill)}`);
  console.log(`violations: ${result.violations.length}${result.violations.length ? `\n  ${result.violations.join('\n  ')}` : ''}`);
  console.log(`failed updates: ${result.failedUpdates.length}${result.failedUpdates.length ? `\n  ${result.failedUpdates.join('\n  ')}` : ''}`);
  process.exitCode = result.violations.length || result.failedUpdates.length ? 1 : 0;
} finally {
  await t.close();
  await broker.stop();
}
