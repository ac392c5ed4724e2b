export * from './errors.js';
export * from './secrets.js';
