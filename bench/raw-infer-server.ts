/**
 * The baseline for bench/agent-http.ts: what a developer would write in 30 lines to serve the same model
 * over HTTP — node:http, onnxruntime-node, the same preprocessing (scale 1/255), JSON in and out.
 *   node dist/bench/raw-infer-server.js <model.onnx> <inputShape as JSON>   (prints {"port": n})
 */
import { createServer } from 'node:http';
import ort from 'onnxruntime-node';
// The engine's settings only (threads, no busy-waiting), so the ratio measures the serving path, not them.
import { onnxSessionOptions } from '#inference';

const [modelPath = '', shapeJson = '[]'] = process.argv.slice(2);
const shape = JSON.parse(shapeJson) as number[];
const session = await ort.InferenceSession.create(modelPath, onnxSessionOptions());
const [inputName = '', outputName = ''] = [session.inputNames[0], session.outputNames[0]];

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    try {
      const { input } = JSON.parse(Buffer.concat(chunks).toString()) as { input: number[] };
      const x = new Float32Array(input.length);
      for (let i = 0; i < input.length; i++) x[i] = (input[i] as number) / 255;
      const out = (await session.run({ [inputName]: new ort.Tensor('float32', x, shape) }))[outputName]?.data as Float32Array;
      let top = 0;
      for (let i = 1; i < out.length; i++) if ((out[i] as number) > (out[top] as number)) top = i;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ output: Array.from(out), topClass: top, confidence: out[top] }));
    } catch (error) {
      res.writeHead(500).end(String(error));
    }
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.once('SIGINT', () => server.close(() => process.exit(0))); // a clean exit (writes a --cpu-prof profile)
