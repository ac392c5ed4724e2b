// Inference engines shared by the agent (serving), the control plane (upload checks), the pipeline and benches.
export * from './engine.js';
export * from './litert-engine.js';
export * from './onnx-engine.js';
export * from './preprocessing.js';
export * from './registry.js';
export * from './session-holder.js';
export * from './tfjs-engine.js';
