export * from './batch-writer.js';
export * from './partitioned-batch-writer.js';
export * from './errors.js';
export * from './fs.js';
export * from './secrets.js';
export * from './activation-window.js';
export * from './broker-tls.js';
export * from './settle-within.js';
