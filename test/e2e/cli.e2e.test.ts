import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { enrolNodes } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { SimulatedFleet } from '../helpers/simulated-fleet.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const CLI = join(process.cwd(), 'dist/apps/cli/src/main.js');
const INPUTS = 16;
const CLASSES = 4;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
// One wave, no bake; one failed node is enough to halt.
const QUICK = JSON.stringify({ waves: { percentages: [100] }, failureThreshold: { count: 1 }, nodeTimeoutSeconds: 60 });

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('the edgefleet CLI against a real control plane, broker and agent', () => {
  let broker: TestBroker;
  let t: TestApp;
  let home: string;
  let agent: AgentProcess | undefined;
  let fleet: SimulatedFleet | undefined;

  /** Runs the built CLI with its own config file; the environment never carries the URL or key unless given. */
  const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        env: { PATH: process.env['PATH'] ?? '', HOME: home, EDGEFLEET_CONFIG: join(home, 'edgefleet', 'config.json'), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  const json = <T>(run: Run): T => {
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ code: 0, stderr: '' });
    return JSON.parse(run.stdout) as T;
  };

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
    home = await mkdtemp(join(tmpdir(), 'ef-cli-'));
  }, 60_000);

  afterAll(async () => {
    await agent?.remove();
    await fleet?.stop();
    await t?.close();
    await broker?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('login checks the key and stores URL and key readable by the owner only (0600)', async () => {
    const run = await cli(['login', '--url', t.url], { EDGEFLEET_API_KEY: t.adminKey });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const path = join(home, 'edgefleet', 'config.json');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ url: t.url, apiKey: t.adminKey });
  });

  it('login takes a URL copied with its /v1, says it uses the base URL, and names the key\'s role', async () => {
    const run = await cli(['login', '--url', `${t.url}/v1/`], { EDGEFLEET_API_KEY: t.adminKey });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`using ${t.url}: the base URL, without the trailing /v1`);
    expect(run.stdout).toContain(`logged in to ${t.url} as admin`);
    expect(JSON.parse(await readFile(join(home, 'edgefleet', 'config.json'), 'utf8'))).toEqual({ url: t.url, apiKey: t.adminKey });
  });

  it('a wrong key exits 3 and says what to do; login refuses to store it', async () => {
    const run = await cli(['nodes', 'ls'], { EDGEFLEET_API_KEY: 'not-a-key' });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('error: Unauthorized');
    expect(run.stderr).toContain('edgefleet login');
    const login = await cli(['login', '--url', t.url, '--key', 'not-a-key']);
    expect(login.code).toBe(3);
    expect(JSON.parse(await readFile(join(home, 'edgefleet', 'config.json'), 'utf8')).apiKey).toBe(t.adminKey);
  });

  it('an unknown id exits 4 with the problem', async () => {
    for (const args of [['nodes', 'get', UNKNOWN_ID], ['rollouts', 'watch', UNKNOWN_ID], ['rollouts', 'pause', UNKNOWN_ID]]) {
      const run = await cli(args);
      expect({ args, code: run.code }).toEqual({ args, code: 4 });
      expect(run.stderr).toContain('error: Not Found');
    }
  });

  it('bad arguments exit 2', async () => {
    expect((await cli(['models', 'push'])).code).toBe(2);
    expect((await cli(['nodes', 'label', UNKNOWN_ID, 'no-equals-sign'])).code).toBe(2);
  });

  it('pushes a real ONNX model with --self-test auto, rolls it out to a real agent, and watch exits 0 on completion', async () => {
    json(await cli(['models', 'create', '--name', 'digits', '--task', 'classification', '--input-shape', `1,${INPUTS}`, '--output-shape', `1,${CLASSES}`, '--input-name', 'input', '--output-name', 'probabilities', '--json']));
    const model = denseSoftmaxModel(7, INPUTS, CLASSES);
    const file = join(home, 'digits.onnx');
    await writeFile(file, model.bytes);
    const push = await cli(['models', 'push', file, '--name', 'digits', '--version', '1.0.0', '--self-test', 'auto']);
    expect(push.code).toBe(0);
    expect(push.stderr).toContain('onnx on onnxruntime');
    expect(push.stderr).toMatch(/upload \[.*\] 100%/);
    const [version] = json<{ id: string; sha256: string; manifest: { signed: { selfTest?: { expectedOutput: number[]; input: number[] } } } }[]>(await cli(['--json', 'models', 'versions', 'digits']));
    // The self-test signed into the manifest is the model's own output on the deterministic input.
    const selfTest = version?.manifest.signed.selfTest;
    expect(selfTest?.expectedOutput.length).toBe(CLASSES);
    Array.from(model.reference(Float32Array.from(selfTest?.input ?? []))).forEach((v, i) => expect(Math.abs(v - (selfTest?.expectedOutput[i] ?? NaN))).toBeLessThan(1e-4));

    const token = json<{ token: string }>(await cli(['tokens', 'create', '--name', 'cli-e2e', '--label', 'fleet=cli', '--json']));
    agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token.token, name: 'cli-agent' });
    const nodes = await waitFor(async () => json<{ name: string; labels: Record<string, string> }[]>(await cli(['nodes', 'ls', '-l', 'fleet=cli', '--json'])), (n) => n.length === 1, 30_000, 'the agent enrolled');
    expect(nodes[0]?.labels).toEqual({ fleet: 'cli' });

    const rollout = json<{ id: string; state: string }>(
      await cli(['rollouts', 'create', '--name', 'digits 1.0', '--model', 'digits', '--version', '1.0.0', '-l', 'fleet=cli', '--strategy', QUICK, '--start', '--json']),
    );
    expect(rollout.state).toBe('running');
    const watch = await cli(['rollouts', 'watch', rollout.id, '--timeout', '60']);
    expect({ code: watch.code, stderr: watch.stderr }).toEqual({ code: 0, stderr: expect.stringContaining('rollout digits 1.0 completed') });
    // Off a terminal a wave's line is written when it changes, never redrawn on a timer.
    expect(watch.stderr.match(/^wave 1: 1\/1 succeeded 1$/gm)).toHaveLength(1);
    expect((await agent.status()).model?.sha256).toBe(version?.sha256);
  }, 120_000);

  it('stats shows the results the agent served, and events ls lists the rollout', async () => {
    const served = agent as AgentProcess;
    for (let i = 0; i < 5; i++) expect((await served.infer(Array.from({ length: INPUTS }, () => 0.5))).status).toBe(200);
    const stats = await waitFor(
      async () => json<{ total: { results: number } }>(await cli(['--json', 'stats', 'digits', '1.0.0', '--window', '1h'])),
      (s) => s.total.results >= 5,
      30_000,
      'results in the stats',
    );
    expect(stats.total.results).toBeGreaterThanOrEqual(5);
    const table = await cli(['stats', 'digits', '1.0.0', '--group-by', 'node']);
    expect({ code: table.code, total: table.stdout.includes('(total)'), node: table.stdout.includes(served.nodeId) }).toEqual({ code: 0, total: true, node: true });
    const events = json<{ type: string }[]>(await cli(['--json', 'events', 'ls', '--type', 'rollout.started,rollout.completed']));
    expect(events.map((e) => e.type)).toEqual(['rollout.started', 'rollout.completed']);
    expect((await cli(['stats', 'digits', '9.9.9'])).code).toBe(4);
  }, 60_000);

  it('watch exits 1 when the rollout halts, naming the reason and the failed node', async () => {
    const ids = await enrolNodes(t, 2, { fleet: 'broken' });
    fleet = await SimulatedFleet.start({ url: broker.url, namespace: t.config.mqtt.fleetNamespace }, ids, () => 'fail');
    // events tail follows from now on: it must show this rollout's halt, and none of the earlier events.
    const tail = spawn(process.execPath, [CLI, '--json', 'events', 'tail', '--type', 'rollout.started,rollout.halted'], {
      env: { PATH: process.env['PATH'] ?? '', HOME: home, EDGEFLEET_CONFIG: join(home, 'edgefleet', 'config.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tailed = '';
    tail.stdout.on('data', (d: Buffer) => (tailed += d.toString()));
    const tailedTypes = () => tailed.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { type: string; rolloutId: string | null }));
    // Nothing new happens before tail has read to the end of the log (it says so on stderr).
    let tailErr = '';
    tail.stderr.on('data', (d: Buffer) => (tailErr += d.toString()));
    await waitFor(async () => tailErr, (e) => e.includes('following new events'), 15_000, 'events tail caught up');
    const rollout = json<{ id: string }>(await cli(['rollouts', 'create', '--name', 'doomed', '--model', 'digits', '--version', '1.0.0', '-l', 'fleet=broken', '--strategy', QUICK, '--start', '--json']));
    const watch = await cli(['rollouts', 'watch', rollout.id, '--timeout', '60']);
    expect(watch.code).toBe(1);
    expect(watch.stderr).toMatch(/rollout doomed halted: failure threshold/);
    // Once, on the error line, and the hint names what a halted rollout accepts.
    expect(watch.stderr.match(/rollout doomed halted/g)).toHaveLength(1);
    expect(watch.stderr).toContain(`\`rollouts resume ${rollout.id}\``);
    expect(watch.stderr).toMatch(/node .*: /);
    // The command the hint names lists the failed nodes with why they failed.
    expect(watch.stderr).toContain(`\`rollouts nodes ${rollout.id} --failed\``);
    const failed = await cli(['rollouts', 'nodes', rollout.id, '--failed']);
    expect(failed.code).toBe(0);
    expect(failed.stdout.match(/self-test-failed/g)?.length).toBeGreaterThanOrEqual(1);
    const failedJson = json<{ state: string; failure: { reason: string } | null }[]>(await cli(['--json', 'rollouts', 'nodes', rollout.id, '--failed']));
    expect(failedJson.length).toBeGreaterThanOrEqual(1);
    expect(failedJson.every((n) => n.state === 'failed' && n.failure?.reason === 'self-test-failed')).toBe(true);
    const nd = await cli(['--json', 'rollouts', 'watch', rollout.id]);
    expect(nd.code).toBe(1);
    expect(JSON.parse(nd.stdout.trim().split('\n').at(-1) ?? '{}')).toMatchObject({ state: 'halted' });
    const events = await waitFor(async () => tailedTypes(), (e) => e.some((x) => x.type === 'rollout.halted'), 15_000, 'the halt in events tail');
    tail.kill();
    expect(events.map((e) => `${e.type} ${e.rolloutId}`)).toEqual([`rollout.started ${rollout.id}`, `rollout.halted ${rollout.id}`]);
  }, 120_000);
});
