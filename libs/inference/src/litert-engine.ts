import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as LiteRtModule from '@litertjs/core';
import { type InferenceEngine, type InferenceSession, InputSizeError, inputSizeOf, modelBytes, type ModelSource, type ModelSpec } from './engine.js';

type LiteRt = typeof LiteRtModule;

let loading: Promise<LiteRt> | undefined;

/**
 * LiteRT.js targets browsers and web workers: it loads its Emscripten glue with `importScripts` and then
 * reads `self.ModuleFactory`. A worker look-alike is two globals: `self` (globalThis itself, as in a
 * worker) and an `importScripts` that evaluates the glue as a classic script. The glue is neither CommonJS
 * nor ESM to Node (its package says "type": "module", the file is a script), so it is compiled as a
 * function whose parameters give it the CommonJS names it uses to find Node (`require`, `__dirname`), and
 * it then reads the .wasm with `fs`.
 */
function installWorkerShim(): void {
  const g = globalThis as Record<string, unknown>;
  g['self'] ??= globalThis;
  g['importScripts'] ??= (...files: string[]) => {
    for (const url of files) {
      const file = url.startsWith('file:') ? fileURLToPath(url) : url;
      const script = new Function('require', '__dirname', '__filename', `${readFileSync(file, 'utf8')}\nreturn ModuleFactory;`) as (...args: unknown[]) => unknown;
      g['ModuleFactory'] = script(createRequire(file), dirname(file), file);
    }
  };
  // Emscripten's module arguments: the runtime prints INFO lines for every model it compiles; keep the
  // agent's stderr for what matters.
  const printErr = (line: string) => {
    if (!/^INFO:|^WARNING: \[npu_registry/.test(line)) process.stderr.write(`litert: ${line}\n`);
  };
  g['Module'] ??= { print: printErr, printErr };
}

/** Loaded on first use only: an agent that never runs a TFLite model does not pay for the WASM module. */
function liteRt(): Promise<LiteRt> {
  loading ??= (async () => {
    const wasmDir = join(dirname(createRequire(import.meta.url).resolve('@litertjs/core')), '..', 'wasm');
    installWorkerShim();
    const module = await import('@litertjs/core');
    // Single-threaded, no JSPI: what Node 20 supports without flags; XNNPACK runs the kernels. The load
    // probes for WebGPU, which Node has not, and says so on console.warn: that one line is expected.
    const warn = console.warn;
    console.warn = (...args: unknown[]) => (String(args[0]).includes('WebGPU') ? undefined : warn(...args));
    await module.loadLiteRt(`${wasmDir}/`, { jspi: false, threads: false }).finally(() => (console.warn = warn));
    return module;
  })();
  loading.catch(() => (loading = undefined));
  return loading;
}

/** TFLite models (the `.tflite` flatbuffer) on LiteRT.js's WASM CPU backend (XNNPACK). */
export class LiteRtEngine implements InferenceEngine {
  readonly name = 'litert';

  async load(source: ModelSource, spec: ModelSpec): Promise<InferenceSession> {
    const litert = await liteRt();
    const model = await litert.loadAndCompile(await modelBytes(source), { accelerator: 'wasm' });
    const shape = [...spec.inputShape];
    const expected = inputSizeOf(shape);
    return {
      async run(input: Float32Array): Promise<Float32Array> {
        if (input.length !== expected) throw new InputSizeError(expected, input.length);
        const tensor = new litert.Tensor(input, shape);
        const outputs = await model.run([tensor]).finally(() => tensor.delete());
        try {
          const first = outputs[0];
          if (!first) throw new Error('the model produced no output');
          // Copy out of the WASM heap: the tensor's memory is freed below.
          return Float32Array.from((await first.data()) as Float32Array);
        } finally {
          for (const output of outputs) output.delete();
        }
      },
      dispose: async () => {
        model.delete();
      },
    };
  }
}
