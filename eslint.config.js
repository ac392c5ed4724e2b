import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const NO_TEST_HELPERS = { group: ['**/test/**', '**/test/helpers/*'], message: 'production code never imports test helpers' };
const SERVER_STORES = ['@nestjs/*', 'typeorm', 'pg', 'bullmq', 'ioredis'];

/** `no-restricted-imports` with the given patterns, after the one every production file has. */
const restrictImports = (...patterns) => ['error', { patterns: [NO_TEST_HELPERS, ...patterns] }];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.edgefleet/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', NodeJS: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // No consistent-type-imports: DTO classes used only as parameter types must stay value imports,
      // or emitDecoratorMetadata records `Object` and the ValidationPipe validates nothing.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-imports': restrictImports(),
    },
  },
  {
    // The agent is plain Node: no Nest, no TypeORM, nothing of the control plane.
    files: ['apps/agent/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': restrictImports(
        { group: SERVER_STORES, message: 'the agent never imports Nest, TypeORM or server-side stores' },
        { group: ['**/control-plane/**'], message: 'apps never import each other: share through libs/' },
      ),
    },
  },
  {
    // The CLI is plain Node like the agent: the REST API through #api-client, nothing of the server.
    files: ['apps/cli/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': restrictImports(
        { group: SERVER_STORES, message: 'the CLI never imports Nest, TypeORM or server-side stores' },
        { group: ['**/control-plane/**', '**/agent/**'], message: 'apps never import each other: share through libs/' },
      ),
    },
  },
  {
    files: ['apps/control-plane/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': restrictImports({ group: ['**/apps/agent/**', '**/agent/src/**'], message: 'apps never import each other: share through libs/' }),
    },
  },
  {
    // Only repositories touch TypeORM: services own rules and transaction boundaries, and hand the `Tx`
    // of database/transactions.ts to repository methods; every SQL statement and TypeORM call lives in a
    // *.repository.ts (or database/, or an entity's mapping).
    files: ['apps/control-plane/src/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.repository.ts', '**/*.entity.ts', 'apps/control-plane/src/database/**'],
    rules: {
      'no-restricted-imports': restrictImports(
        { group: ['**/apps/agent/**', '**/agent/src/**'], message: 'apps never import each other: share through libs/' },
        { group: ['typeorm', 'typeorm/*', '@nestjs/typeorm', 'pg', 'pg/*'], message: 'only repositories touch TypeORM: move the statement into a *.repository.ts and pass it a Tx (database/transactions.ts)' },
      ),
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name=/^(query|getRepository|createQueryBuilder|createQueryRunner)$/][arguments.length>0]",
          message: 'only repositories run SQL or TypeORM calls: move it into a *.repository.ts',
        },
      ],
    },
  },
  {
    // The console runs in the browser: the REST API through #api-client, nothing of Node or the server.
    files: ['apps/console/src/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': restrictImports(
        { group: ['node:*', ...SERVER_STORES, 'mqtt'], message: 'the console runs in a browser: no Node or server modules' },
        { group: ['**/control-plane/**', '**/agent/**', '**/cli/**', '#common', '#trust', '#inference', '#tflite'], message: 'the console talks to the API only, through #api-client' },
      ),
    },
  },
  {
    // Layering: libs/common imports no app code.
    files: ['libs/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/apps/**'], message: 'libs never import apps' }] }] },
  },
  {
    // The wire contract depends on nothing of ours.
    files: ['libs/protocol/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['#*', '**/apps/**', '../../*'], message: 'libs/protocol imports nothing of ours' }] }] },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', '**/*.spec.ts'],
    rules: { 'no-restricted-imports': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
