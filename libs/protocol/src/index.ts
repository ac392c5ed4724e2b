export * from './chunks.js';
export * from './codec.js';
export * from './errors.js';
export * from './messages.js';
export * from './signed-documents.js';
export * from './status.js';
export * from './topics.js';
export * from './results-encoding.js';
