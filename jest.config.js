// ESM mode: NestJS 12 is ESM-only, and Jest's CommonJS mode cannot load it on Node 20 (stack notes).
// Run through `npm test`, which starts node with --experimental-vm-modules.
export default {
  testEnvironment: '<rootDir>/test/node-environment.js',
  extensionsToTreatAsEsm: ['.ts'],
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test', '<rootDir>/migrations', '<rootDir>/pipeline'],
  testMatch: ['**/*.spec.ts', '**/*.int.test.ts', '**/*.e2e.test.ts'],
  moduleNameMapper: {
    '^#common$': '<rootDir>/libs/common/src/index.ts',
    '^#trust$': '<rootDir>/libs/trust/src/index.ts',
    '^#protocol$': '<rootDir>/libs/protocol/src/index.ts',
    '^#tflite$': '<rootDir>/libs/tflite/src/index.ts',
    '^#inference$': '<rootDir>/libs/inference/src/index.ts',
    '^#api-client$': '<rootDir>/libs/api-client/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  // Integration suites each create their own database; two workers match the machine's two cores.
  maxWorkers: 2,
  // Known-slow suites first, so that none of them starts last and stretches the run's tail.
  testSequencer: '<rootDir>/test/slow-first-sequencer.js',
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  testTimeout: 60000,
  // Each suite loads Nest, TypeORM and the engines again into its worker's module registry, and Jest's ESM
  // mode never frees them: without a bound a worker grew to 5.9 GB RSS (native memory included) and the
  // run slowed (one pair of fresh-clone runs: 952 s without the bound, 762 s with it). Memory pressure is a
  // plausible, unproven cause of CI's rare 30-s stalls (an MQTT connack, an agent "not reaching" its
  // failpoint). A worker above this after a suite is replaced by a fresh one. With this set, Jest never
  // runs in band (`npm test -- --runInBand` still starts a worker).
  workerIdleMemoryLimit: '1GB',
};
