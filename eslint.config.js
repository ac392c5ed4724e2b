import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/test/**', '**/test/helpers/*'], message: 'production code never imports test helpers' }] },
      ],
    },
  },
  {
    // The agent is plain Node: no Nest, no TypeORM, nothing of the control plane.
    files: ['apps/agent/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/test/**', '**/test/helpers/*'], message: 'production code never imports test helpers' },
            { group: ['@nestjs/*', 'typeorm', 'pg', 'bullmq', 'ioredis'], message: 'the agent never imports Nest, TypeORM or server-side stores' },
            { group: ['**/control-plane/**'], message: 'apps never import each other: share through libs/' },
          ],
        },
      ],
    },
  },
  {
    // The CLI is plain Node like the agent: the REST API through #api-client, nothing of the server.
    files: ['apps/cli/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/test/**', '**/test/helpers/*'], message: 'production code never imports test helpers' },
            { group: ['@nestjs/*', 'typeorm', 'pg', 'bullmq', 'ioredis'], message: 'the CLI never imports Nest, TypeORM or server-side stores' },
            { group: ['**/control-plane/**', '**/agent/**'], message: 'apps never import each other: share through libs/' },
          ],
        },
      ],
    },
  },
  {
    files: ['apps/control-plane/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/test/**', '**/test/helpers/*'], message: 'production code never imports test helpers' },
            { group: ['**/apps/agent/**', '**/agent/src/**'], message: 'apps never import each other: share through libs/' },
          ],
        },
      ],
    },
  },
  {
    // The console runs in the browser: the REST API through #api-client, nothing of Node or the server.
    files: ['apps/console/src/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/test/**', '**/test/helpers/*'], message: 'production code never imports test helpers' },
            { group: ['node:*', '@nestjs/*', 'typeorm', 'pg', 'bullmq', 'ioredis', 'mqtt'], message: 'the console runs in a browser: no Node or server modules' },
            { group: ['**/control-plane/**', '**/agent/**', '**/cli/**', '#common', '#trust', '#inference', '#tflite'], message: 'the console talks to the API only, through #api-client' },
          ],
        },
      ],
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
