import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBrokerTls } from '../../pipeline/src/broker-tls.js';
import { ConfigError, loadConfig } from '../../apps/control-plane/src/config/config.js';
import { waitFor } from '../helpers/agent-process.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

interface Health {
  status: string;
  info?: Record<string, { status: string }>;
  error?: Record<string, { status: string; message?: string }>;
}

/** The control plane's side of MQTT over TLS, against a real Mosquitto with the repo's TLS listener. */
describe('MQTT over TLS: the control plane', () => {
  let broker: TestBroker;
  let dir: string;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    broker = await startTestBroker({ tls: true });
    dir = await mkdtemp(join(tmpdir(), 'ef-tls-'));
  }, 60_000);

  afterAll(async () => {
    for (const app of apps) await app.close();
    await broker?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const health = async (t: TestApp) => (await t.http().get('/health')).body as Health;

  it('scripts/make-tls.sh makes a CA and a server certificate for the names given, with 0600 private keys', async () => {
    const files = await makeBrokerTls(join(dir, 'made'), ['broker.example.com', '10.1.2.3']);
    const ca = new X509Certificate(await readFile(files.caFile));
    const server = new X509Certificate(await readFile(files.certFile));
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.checkIssued(ca) && server.verify(ca.publicKey)).toBe(true);
    expect(server.subjectAltName?.split(', ').sort()).toEqual(['DNS:broker.example.com', 'DNS:localhost', 'IP Address:10.1.2.3', 'IP Address:127.0.0.1']);
    for (const key of ['ca.key', 'server.key']) expect(((await stat(join(files.dir, key))).mode & 0o777).toString(8)).toBe('600');
  });

  it('mosquitto-tls.conf is mosquitto-dynsec.conf with a TLS listener instead of the plain one: no limit drifts apart', async () => {
    const settings = async (file: string) =>
      (await readFile(`deploy/mosquitto/${file}`, 'utf8'))
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '' && !line.startsWith('#') && !/^(listener|certfile|keyfile|tls_version|require_certificate)\b/.test(line));
    expect(await settings('mosquitto-tls.conf')).toEqual(await settings('mosquitto-dynsec.conf'));
  });

  it('connects to the broker over mqtts:// when MQTT_CA_FILE names the broker CA', async () => {
    if (!broker.tls) throw new Error('the test broker has no TLS files');
    const t = await startTestApp({ MQTT_URL: broker.url, MQTT_CA_FILE: broker.tls.caFile });
    apps.push(t);
    await waitFor(() => health(t), (h) => h.info?.['mqtt']?.status === 'up', 15_000, 'broker up in /health');
  }, 60_000);

  it('does not connect to a broker whose certificate does not chain to MQTT_CA_FILE, and /health says why', async () => {
    const other = await makeBrokerTls(join(dir, 'other'));
    const t = await startTestApp({ MQTT_URL: broker.url, MQTT_CA_FILE: other.caFile });
    apps.push(t);
    const down = await waitFor(() => health(t), (h) => /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN/.test(h.error?.['mqtt']?.message ?? ''), 15_000, 'TLS refusal in /health');
    expect(down.status).toBe('error');
    expect(down.error?.['mqtt']?.message).toMatch(/^not connected to the broker \(/);
  }, 60_000);

  it('refuses at boot a CA file with a plain URL, a missing file, a file without a certificate and a certificate that is no CA', async () => {
    if (!broker.tls) throw new Error('the test broker has no TLS files');
    const notPem = join(dir, 'not-pem.crt');
    await writeFile(notPem, 'hello\n');
    const cases: [Record<string, string>, string][] = [
      [{ MQTT_URL: 'mqtt://127.0.0.1:1883', MQTT_CA_FILE: broker.tls.caFile }, 'MQTT_CA_FILE: is set but MQTT_URL mqtt://127.0.0.1:1883 is not TLS'],
      [{ MQTT_URL: broker.url, MQTT_CA_FILE: join(dir, 'absent.crt') }, `MQTT_CA_FILE: cannot read ${join(dir, 'absent.crt')} (ENOENT)`],
      [{ MQTT_URL: broker.url, MQTT_CA_FILE: notPem }, `MQTT_CA_FILE: ${notPem} holds no PEM certificate`],
      [{ MQTT_URL: broker.url, MQTT_CA_FILE: broker.tls.certFile }, `MQTT_CA_FILE: ${broker.tls.certFile} holds a certificate that is not a CA`],
    ];
    for (const [env, message] of cases) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(message);
    }
    expect(loadConfig({ MQTT_URL: broker.url, MQTT_CA_FILE: broker.tls.caFile }).mqtt.ca).toContain('-----BEGIN CERTIFICATE-----');
  });
});
