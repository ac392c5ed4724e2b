import { defineConfig } from 'rolldown';

/**
 * The agent as it ships: tsc's output (dist/apps/agent) bundled into dist/agent, minified, with only the
 * inference engines left as packages (native or WebAssembly, loaded on first use: libs/inference).
 * Why: an agent lives on small devices, and V8 keeps every loaded module's source, scope data and module
 * record in the heap. Bundled, zod's locales and the parts of mqtt's dependencies the agent never reaches
 * are not loaded, and comments and whitespace are not held: the agent serving the seed CNN on ONNX Runtime
 * dropped from 100–101 MB to about 96.5 MB resident (bench/agent-rss.ts), as balena-supervisor bundles
 * its supervisor for the same reason.
 * Names are kept (errors and logs read them); `--enable-source-maps` maps a stack trace back to dist/apps.
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
    format: 'esm',
    cleanDir: true,
    keepNames: true,
    comments: false,
    sourcemap: true,
    minify: { compress: true, mangle: { keepNames: true }, codegen: { removeWhitespace: true } },
  },
  logLevel: 'warn',
});
