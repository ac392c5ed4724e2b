import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { AgentProcess, waitFor } from '../../helpers/agent-process.js';
import { launchBrowser, openConsole, saveScreenshot, signIn } from '../../helpers/browser.js';
import { createModel, enrolNodes, startRollout } from '../../helpers/fleet.js';
import { denseSoftmaxModel } from '../../helpers/onnx-model.js';
import { SimulatedFleet } from '../../helpers/simulated-fleet.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../../helpers/test-broker.js';

const INPUTS = 16;
const CLASSES = 4;

interface Version {
  id: string;
  version: string;
  sha256: string;
  manifest: { signed: { selfTest?: { input: number[]; expectedOutput?: number[] } } };
}

/**
 * Drops a file on the upload zone the way a browser does: a drop event carrying a DataTransfer. The page
 * side is a string (the tests compile without the DOM library); the bytes travel as base64.
 */
async function dropFile(page: Page, name: string, bytes: Uint8Array): Promise<void> {
  const b64 = Buffer.from(bytes).toString('base64');
  const transfer = await page.evaluateHandle(`(() => {
    const dt = new DataTransfer();
    dt.items.add(new File([Uint8Array.from(atob('${b64}'), (c) => c.charCodeAt(0))], ${JSON.stringify(name)}));
    return dt;
  })()`);
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer: transfer });
}

describe('the web console with 3 real agents: upload, a rollout from the form watched live, a halt', () => {
  let broker: TestBroker;
  let t: TestApp;
  let browser: Browser;
  const agents: AgentProcess[] = [];
  let fleet: SimulatedFleet | undefined;
  let version: Version | undefined;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
    browser = await launchBrowser();
    await createModel(t, 'digits', INPUTS, CLASSES);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.remove()));
    await fleet?.stop();
    await browser?.close();
    await t?.close();
    await broker?.stop();
  });

  it('the fleet page counts real agents coming online, live', async () => {
    const page = await openConsole(browser, t.url);
    await signIn(page, t.adminKey, 'admin');
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    const { token } = await createEnrollmentToken(t, { maxUses: 3, labels: { fleet: 'console' } });
    agents.push(...(await Promise.all([1, 2, 3].map((i) => AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, name: `console-agent-${i}` })))));
    // No reload: node.enrolled / node.online events on the stream bring the counts up.
    await page.getByTestId('count-online').filter({ hasText: /^3$/ }).waitFor({ timeout: 60_000 });
    await page.close();
  }, 120_000);

  it('uploads a real ONNX model by drag and drop, with the self-test computed by the control plane', async () => {
    const page = await openConsole(browser, t.url);
    await signIn(page, t.adminKey, 'admin');
    await page.goto(`${t.url}/models/digits`);
    const model = denseSoftmaxModel(7, INPUTS, CLASSES);
    await dropFile(page, 'digits.onnx', model.bytes);
    await page.getByText(/digits\.onnx · .* · onnx/).waitFor();
    await page.getByLabel('Version (semver)').fill('1.0.0');
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.getByTestId('upload-done').filter({ hasText: 'Uploaded 1.0.0 (fp32)' }).waitFor({ timeout: 60_000 });
    await page.getByTestId('version-row').first().waitFor();
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByText(/Signed manifest \(sequence/).waitFor();
    await saveScreenshot(page, 'console-model');
    const versions = (await t.http().get('/v1/models/digits/versions').set(bearer(t.adminKey)).expect(200)).body as Version[];
    expect(versions.map((v) => v.version)).toEqual(['1.0.0']);
    version = versions[0];
    // Self-test auto: the deterministic input went up, the control plane ran the artifact for the output.
    const selfTest = version?.manifest.signed.selfTest;
    expect(selfTest?.input).toEqual(Array.from({ length: INPUTS }, (_, i) => ((i * 37) % 101) / 101));
    const expected = model.reference(Float32Array.from(selfTest?.input ?? []));
    expect(selfTest?.expectedOutput?.length).toBe(CLASSES);
    Array.from(expected).forEach((v, i) => expect(Math.abs(v - (selfTest?.expectedOutput?.[i] ?? NaN))).toBeLessThan(1e-4));
    await page.close();
  }, 90_000);

  it('creates a rollout from the form after its dry run, and watches it complete live on 3 real agents', async () => {
    const page = await openConsole(browser, t.url);
    await signIn(page, t.adminKey, 'admin');
    await page.getByRole('link', { name: 'Rollouts', exact: true }).click();
    await page.getByRole('link', { name: 'New rollout' }).click();
    await page.getByLabel('Name').fill('digits 1.0 to the console fleet');
    await page.getByLabel('Version').selectOption({ label: 'digits 1.0.0 (fp32, onnx)' });
    await page.getByLabel('Label selector').fill('fleet=console');
    await page.getByLabel('Waves (cumulative %)').fill('34, 100');
    await page.getByLabel('Node timeout (s)').fill('60');
    expect(await page.getByRole('button', { name: 'Create and start' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Dry run' }).click();
    const dryRun = page.getByTestId('dry-run');
    // 34 % of 3 nodes is rounded up to 2 in wave 1; the rest follow in wave 2.
    await dryRun.getByText(/3 nodes in 2 waves \(2 \/ 1\)/).waitFor();
    await saveScreenshot(page, 'console-dry-run');
    await page.getByRole('button', { name: 'Create and start' }).click();
    await page.waitForURL(/\/rollouts\/[0-9a-f-]{36}$/);
    const id = new URL(page.url()).pathname.split('/').at(-1) ?? '';
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    // The page never reloads: the waves fill and the state turns completed from the event stream.
    await page.getByTestId('rollout-state').filter({ hasText: /^completed$/ }).waitFor({ timeout: 90_000 });
    await page.getByTestId('wave-2').filter({ hasText: '1/1' }).waitFor();
    expect(await page.getByTestId('wave-1').textContent()).toContain('2/2');
    await page.getByTestId('timeline').getByText('complete', { exact: false }).first().waitFor();
    await saveScreenshot(page, 'console-rollout-completed');
    expect((await t.http().get(`/v1/rollouts/${id}`).set(bearer(t.adminKey)).expect(200)).body.state).toBe('completed');
    for (const agent of agents) expect((await agent.status()).model?.sha256).toBe(version?.sha256);
    // A node's page: its version, the heartbeat charts, and the rollout in its history.
    await page.goto(`${t.url}/nodes/${agents[0]?.nodeId}`);
    await page.getByText('digits 1.0.0 (fp32)').first().waitFor();
    await page.getByTestId('heartbeat-charts').locator('canvas').first().waitFor();
    await page.getByRole('table', { name: 'Deployment history' }).getByText('committed').waitFor();
    await saveScreenshot(page, 'console-node');
    await page.close();
  }, 150_000);

  it('a rollout started from its page halts live, showing the reason; the events page shows the halt', async () => {
    const ids = await enrolNodes(t, 2, { fleet: 'broken' });
    fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, ids, () => 'fail');
    const strategy = { waves: { percentages: [100] }, failureThreshold: { count: 1 }, nodeTimeoutSeconds: 60 };
    const id = await startRollout(t, { name: 'doomed', modelVersionId: version?.id, selector: 'fleet=broken', strategy }, false);
    const events = await openConsole(browser, t.url);
    await signIn(events, t.adminKey, 'admin');
    await events.getByRole('link', { name: 'Events', exact: true }).click();
    await events.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    const page = await openConsole(browser, t.url);
    await signIn(page, t.adminKey, 'admin');
    await page.goto(`${t.url}/rollouts/${id}`);
    await page.getByTestId('rollout-state').filter({ hasText: 'draft' }).waitFor();
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    await page.getByRole('group', { name: 'Rollout actions' }).getByRole('button', { name: 'Start' }).click();
    await page.getByTestId('rollout-state').filter({ hasText: /^halted$/ }).waitFor({ timeout: 60_000 });
    const reason = await page.getByTestId('halt-reason').textContent();
    expect(reason).toMatch(/failure threshold: \d+ nodes? failed/);
    await page.getByRole('group', { name: 'Rollout actions' }).getByRole('button', { name: 'Resume' }).waitFor();
    await saveScreenshot(page, 'console-rollout-halted');
    await events.getByTestId('event-feed').getByText('rollout.halted').waitFor();
    await saveScreenshot(events, 'console-events');
    const stored = (await t.http().get(`/v1/rollouts/${id}`).set(bearer(t.adminKey)).expect(200)).body as { haltReason: string };
    expect(reason).toContain(stored.haltReason);
    await waitFor(async () => (await t.http().get('/v1/events').query({ type: 'rollout.halted', rollout: id }).set(bearer(t.adminKey))).body.items.length, (n: number) => n === 1, 10_000, 'one halted event');
    await page.close();
    await events.close();
  }, 120_000);
});
