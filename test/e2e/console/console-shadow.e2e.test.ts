import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import type { Browser } from 'playwright-core';
import { envelopeFields, fleetTopics, type ShadowReportMessage } from '#protocol';
import { waitFor } from '../../helpers/agent-process.js';
import { launchBrowser, openConsole, saveScreenshot, signIn } from '../../helpers/browser.js';
import { createModel, enrolNodes, startRollout, uploadVersion } from '../../helpers/fleet.js';
import { denseSoftmaxModel } from '../../helpers/onnx-model.js';
import { startTestApp, type TestApp } from '../../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../../helpers/test-broker.js';

/**
 * The rollout page shows each wave's shadow figures (GET /v1/rollouts/:id `waves[].shadow`) and keeps them
 * current while the wave waits on its shadow gate. The node's reports are sent by hand over the real broker
 * (the figures are the point here; shadow-evaluation.e2e runs real agents). Needs the built console.
 */
describe('the web console: shadow figures on the live rollout page', () => {
  let broker: TestBroker;
  let t: TestApp;
  let browser: Browser;
  let client: MqttClient;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
    browser = await launchBrowser();
    client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  }, 90_000);

  afterAll(async () => {
    await client?.endAsync();
    await browser?.close();
    await t?.close();
    await broker?.stop();
  });

  it('shows samples, agreement, divergence, latency ratio, errors and the verdict, updated as reports come', async () => {
    await createModel(t, 'digits', 16, 4);
    const version = await uploadVersion(t, 'digits', { version: '1.0.0' }, denseSoftmaxModel(3).bytes);
    const [node = ''] = await enrolNodes(t, 1, { fleet: 'shadow-console' });
    const id = await startRollout(t, { modelVersionId: version.id, selector: 'fleet=shadow-console', strategy: { nodeTimeoutSeconds: 3600, shadow: { minSamples: 40, minAgreement: 0.9 } } });
    const [dispatched] = await waitFor(
      async () => (await t.db.query(`SELECT deployment_id AS "deploymentId" FROM rollout_nodes WHERE rollout_id = $1 AND state = 'dispatched'`, [id])) as { deploymentId: string }[],
      (rows) => rows.length === 1,
      30_000,
      'the node dispatched',
    );
    const report = (seq: number, samples: number, agreed: number): ShadowReportMessage => ({
      ...envelopeFields(),
      seq,
      deploymentId: dispatched?.deploymentId as string,
      sha256: version.sha256,
      startedAt: new Date().toISOString(),
      samples,
      agreed,
      errors: 0,
      skipped: 2,
      meanDivergence: 0.0123,
      meanAbsDiff: 0.02,
      activeLatencyMs: 2,
      candidateLatencyMs: 3,
    });
    const send = (m: ShadowReportMessage) => client.publishAsync(fleetTopics(t.config.mqtt.fleetNamespace).uplink(node, 'shadow'), JSON.stringify(m), { qos: 1 });
    await send(report(1, 10, 10));
    await waitFor(async () => (await t.db.query(`SELECT 1 FROM shadow_reports WHERE node_id = $1`, [node])) as unknown[], (rows) => rows.length === 1, 15_000, 'the first report stored');

    const page = await openConsole(browser, t.url);
    await signIn(page, t.adminKey, 'admin');
    await page.goto(`${t.url}/rollouts/${id}`);
    const wave = page.getByTestId('shadow-wave-1');
    await wave.getByText('wait').waitFor();
    expect(await wave.getByTestId('shadow-samples').textContent()).toBe('10');
    expect(await wave.getByTestId('shadow-agreement').textContent()).toBe('100.0%');
    expect(await wave.getByTestId('shadow-divergence').textContent()).toBe('0.0123');
    expect(await wave.getByTestId('shadow-latency-ratio').textContent()).toBe('1.50×');
    expect(await wave.getByTestId('shadow-errors').textContent()).toBe('0');
    expect(await wave.textContent()).toContain('need 40 shadow samples');

    // No reload, and no rollout event: the page re-reads a rollout whose wave waits on its shadow gate.
    await send(report(2, 20, 20));
    await wave.getByTestId('shadow-samples').filter({ hasText: /^20$/ }).waitFor({ timeout: 30_000 });
    expect(await wave.getByText('wait').count()).toBe(1);
    // The pass is a rollout event (shadow-verdict): the live stream brings it.
    await send(report(3, 50, 48));
    await wave.getByText('pass').waitFor({ timeout: 30_000 });
    expect(await wave.getByTestId('shadow-samples').textContent()).toBe('50');
    expect(await wave.getByTestId('shadow-agreement').textContent()).toBe('96.0%');
    await saveScreenshot(page, 'console-rollout-shadow');
    await page.close();
  }, 120_000);
});
