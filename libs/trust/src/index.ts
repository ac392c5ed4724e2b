export * from './artifact-verifier.js';
export * from './canonical-json.js';
export * from './desired-state.js';
export * from './envelope.js';
export * from './keys.js';
export * from './manifest.js';
export * from './root.js';
export * from './trust-error.js';
