import { defineConfig } from 'rolldown';

/**
 * The agent as it ships: tsc's output (dist/apps/agent) bundled into dist/agent, minified, with only the
 * inference engines left as packages (native or WebAssembly, loaded on first use: libs/inference).
 * Why: an agent lives on small devices, and V8 keeps every loaded module's source, scope data and module
 * record in the heap. Bundled, it loads a few modules instead of hundreds, leaves out zod's locales (only
 * English is reached), and holds no comments or whitespace: the agent serving the seed CNN on ONNX Runtime
 * dropped from 100–101 MB to 96.7–97.5 MB resident (bench/agent-rss.ts). balena-supervisor bundles its
 * supervisor for the same reason.
 * Names are kept (errors and logs read them). The source maps are written beside the bundle for decoding a
 * stack trace; `--enable-source-maps` on a device costs ~17 MB resident (docs/agent.md).
 */
export default defineConfig({
  input: {
    main: 'dist/apps/agent/src/main.js',
    // A worker's own entry: shadow/worker-candidate.ts starts it as './candidate-worker.js' beside itself.
    'candidate-worker': 'dist/apps/agent/src/shadow/candidate-worker.js',
  },
  platform: 'node',
  external: [/^onnxruntime-node(\/|$)/, /^@litertjs\//, /^@tensorflow\//],
  output: {
    dir: 'dist/agent',
    // The code both entries use (zod, protocol, trust, inference); the default names it after one module.
    chunkFileNames: 'shared-[hash].js',
    format: 'esm',
    cleanDir: true,
    keepNames: true,
    comments: false,
    sourcemap: true,
    minify: { compress: true, mangle: { keepNames: true }, codegen: { removeWhitespace: true } },
  },
  logLevel: 'warn',
});
