import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TelemetryService } from '../../apps/control-plane/src/telemetry/telemetry.service.js';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

describe('agent enrolment', () => {
  let broker: TestBroker;
  let t: TestApp;
  const agents: AgentProcess[] = [];

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url });
  }, 60_000);

  afterAll(async () => {
    for (const agent of agents) await agent.remove();
    await t?.close();
    await broker?.stop();
  });

  const create = async (enrollmentToken: string) => {
    const agent = await AgentProcess.create({ controlPlaneUrl: t.url, enrollmentToken });
    agents.push(agent);
    return agent;
  };

  it('waits for a control plane that is not listening yet, then enrols and starts', async () => {
    const { token } = await createEnrollmentToken(t);
    const server = t.app.getHttpServer() as Server;
    const { port } = server.address() as { port: number };
    // The control plane stops listening: connections to its port are refused from here on.
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closed;

    const agent = await create(token);
    let exited: unknown;
    const started = agent.restart().catch((error: unknown) => (exited = error));
    const waitingLogs = () => agent.logs.filter((line) => line.includes('waiting for the control plane to enrol'));
    for (const deadline = Date.now() + 20_000; waitingLogs().length < 2; await new Promise((r) => setTimeout(r, 50))) {
      if (exited) throw exited; // before: "cannot reach the control plane", exit 78
      if (Date.now() > deadline) throw new Error(`the agent did not wait for the control plane:\n${agent.logs.join('\n')}`);
    }
    expect(JSON.parse(waitingLogs()[0] ?? '{}')).toMatchObject({ level: 'warn', controlPlaneUrl: t.url, attempt: 1 });

    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    await started;
    expect(exited).toBeUndefined();
    expect(agent.nodeId).toMatch(/^[0-9a-f-]{36}$/);
    await t.http().get(`/v1/nodes/${agent.nodeId}`).set(bearer(t.adminKey)).expect(200);
  }, 60_000);

  it('still exits 78 at once for a token the control plane refuses', async () => {
    const agent = await create('eft_not-a-token');
    await expect(agent.restart()).rejects.toThrow('agent exited with 78');
    expect(agent.logs.join('\n')).toContain('enrolment refused (401)');
  }, 30_000);

  it('enrols again, as the same node, when its saved identity predates fleet namespaces', async () => {
    const { token } = await createEnrollmentToken(t);
    const agent = await create(token);
    await agent.restart();
    const nodeId = agent.nodeId;
    await agent.stop();
    const path = join(agent.stateDir, 'state', 'identity.json');
    const saved = JSON.parse(await readFile(path, 'utf8')) as { mqtt: Record<string, unknown> };
    delete saved.mqtt['namespace'];
    await writeFile(path, JSON.stringify(saved));

    await agent.restart();
    expect(agent.nodeId).toBe(nodeId);
    expect((JSON.parse(await readFile(path, 'utf8')) as { mqtt: { namespace: string } }).mqtt.namespace).toBe(t.config.mqtt.fleetNamespace);
    // It talks to its control plane again: heartbeats sent after the re-enrolment are stored.
    const heartbeats = async () => {
      await t.app.get(TelemetryService).flush();
      return Number(((await t.db.query('SELECT count(*) AS n FROM node_heartbeats WHERE node_id = $1', [nodeId])) as { n: string }[])[0]?.n);
    };
    const before = await heartbeats();
    await waitFor(heartbeats, (n) => n >= before + 2, 15_000, 'heartbeats after re-enrolment');
  }, 60_000);

  it('`enroll` exits 75 (try again later), not 78, when the control plane cannot be reached', async () => {
    // A port nothing listens on: bound, then released.
    const port = await new Promise<number>((done) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => done(free));
      });
    });
    const dir = await mkdtemp(join(tmpdir(), 'ef-enroll-'));
    const config = join(dir, 'agent.json');
    await writeFile(config, JSON.stringify({ controlPlaneUrl: `http://127.0.0.1:${port}`, stateDir: join(dir, 'state'), enrollmentToken: 'eft_whatever' }));
    const child = spawn(process.execPath, [resolve('dist/agent/main.js'), 'enroll', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    await rm(dir, { recursive: true, force: true });
    expect(code).toBe(75);
    expect(stderr).toContain('cannot reach the control plane');
  }, 30_000);
});
