import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createModel } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

const CLASSES = 4;
/** A float self-test input for a 224×224×3 model: about 2.9 MB of JSON, signed into every desired state. */
const PIXELS = 224 * 224 * 3;
/** About 150 KB of self-test: under the 256 KiB nodes accept for a desired state, over a 140,000-byte broker limit. */
const MEDIUM = 8000;
const frame = (length: number) => Array.from({ length }, (_, i) => (i % 256) / 255);

type Refusal = { status: number; headers: Record<string, string>; body: { detail?: string } };

/**
 * The manifest, self-test input included, rides in every desired state, and a desired state is one MQTT
 * message: an upload whose desired state could never be delivered is refused (422) before anything is signed.
 */
describe('an upload whose signed desired state could never be delivered is refused', () => {
  let defaults: TestApp;
  let smallBroker: TestApp;

  const upload = (t: TestApp, name: string, version: string, bytes: Buffer, input: number[]) =>
    t
      .http()
      .post(`/v1/models/${name}/versions`)
      .set(bearer(t.adminKey))
      .field('version', version)
      .field('variant', 'fp32')
      .field('format', 'onnx')
      .field('engine', 'onnxruntime')
      .field('selfTest', JSON.stringify({ input }))
      .attach('artifact', bytes, 'model.bin');
  const versions = async (t: TestApp, name: string) => (await t.http().get(`/v1/models/${name}/versions`).set(bearer(t.adminKey)).expect(200)).body as unknown[];
  const tempFiles = (t: TestApp) => readdir(join(t.config.artifacts.dir, 'tmp')).catch(() => [] as string[]);
  const expect422 = (res: Refusal, detail: RegExp) => {
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toMatch(detail);
    expect(res.body.detail).toMatch(/upload a smaller self-test input/);
  };

  beforeAll(async () => {
    defaults = await startTestApp();
    smallBroker = await startTestApp({ MQTT_MAX_MESSAGE_BYTES: '140000' });
  }, 60_000);
  afterAll(async () => {
    await defaults.close();
    await smallBroker.close();
  });

  it('refuses a float self-test input for a 224×224×3 model, naming its size and the limit, and keeps nothing', async () => {
    await createModel(defaults, 'camera', PIXELS, CLASSES);
    const res = await upload(defaults, 'camera', '1.0.0', denseSoftmaxModel(8, PIXELS, CLASSES).bytes, frame(PIXELS));
    expect422(res, /would be \d+ bytes \([\d.]+ KiB\), over the 262144 bytes \(256\.0 KiB\) nodes accept for a desired state/);
    expect(res.body.detail).toMatch(/\(150528 input values\)/);
    expect(await versions(defaults, 'camera')).toEqual([]);
    expect(await tempFiles(defaults)).toEqual([]);
  });

  it('refuses against MQTT_MAX_MESSAGE_BYTES, the broker limit configured, what fits the default limit', async () => {
    const bytes = denseSoftmaxModel(9, MEDIUM, CLASSES).bytes;
    await createModel(defaults, 'medium', MEDIUM, CLASSES);
    await upload(defaults, 'medium', '1.0.0', bytes, frame(MEDIUM)).expect(201);

    await createModel(smallBroker, 'medium', MEDIUM, CLASSES);
    const res = await upload(smallBroker, 'medium', '1.0.0', bytes, frame(MEDIUM));
    expect422(res, /would be an MQTT message of \d+ bytes \([\d.]+ KiB\), over the broker's limit of 140000 bytes \(136\.7 KiB\) \(MQTT_MAX_MESSAGE_BYTES/);
    expect(await versions(smallBroker, 'medium')).toEqual([]);
    expect(await tempFiles(smallBroker)).toEqual([]);
  });
});
