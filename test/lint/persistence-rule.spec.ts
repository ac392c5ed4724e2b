import { execFileSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';

/**
 * The persistence rule in eslint.config.js: under apps/control-plane/src only repositories, database/ and
 * entities touch TypeORM. Each case lints a source text as if it lived at `filePath`, through the repo's
 * own config, and lists the rules that refused it.
 */
function refusedBy(filePath: string, code: string): string[] {
  let output: string;
  try {
    output = execFileSync(process.execPath, ['node_modules/eslint/bin/eslint.js', '--format', 'json', '--stdin', '--stdin-filename', filePath], { input: code, encoding: 'utf8' });
  } catch (error) {
    // ESLint exits 1 when it reports errors; the report is still on stdout.
    output = (error as { stdout: string }).stdout;
  }
  const [result] = JSON.parse(output) as { messages: { ruleId: string | null }[] }[];
  return [...new Set((result?.messages ?? []).map((m) => m.ruleId ?? 'parse'))].sort();
}

const RAW_SQL = `import type { DataSource } from 'typeorm';
export class Probe {
  constructor(private readonly db: DataSource) {}
  count(): Promise<unknown> { return this.db.query('SELECT count(*) FROM nodes'); }
}
`;

const THROUGH_TX = `import type { Tx } from '../database/transactions.js';
export class Probe {
  count(tx: Tx): Promise<unknown> { return tx.query('SELECT count(*) FROM nodes'); }
}
`;

const THROUGH_REPOSITORY = `import type { Tx } from '../database/transactions.js';
export class Probe {
  constructor(private readonly nodes: { count(tx: Tx): Promise<number> }) {}
  count(tx: Tx): Promise<number> { return this.nodes.count(tx); }
}
`;

describe('only repositories touch TypeORM (lint rule)', () => {
  it('refuses a service that imports typeorm and runs SQL', () => {
    expect(refusedBy('apps/control-plane/src/nodes/probe.service.ts', RAW_SQL)).toEqual(['no-restricted-imports', 'no-restricted-syntax']);
  });

  it('refuses SQL run on a Tx outside a repository', () => {
    expect(refusedBy('apps/control-plane/src/rollouts/probe-engine.ts', THROUGH_TX)).toEqual(['no-restricted-syntax']);
  });

  it('lets a service hand a Tx to a repository', () => {
    expect(refusedBy('apps/control-plane/src/rollouts/probe.service.ts', THROUGH_REPOSITORY)).toEqual([]);
  });

  it('lets repositories, database/ and entities use TypeORM', () => {
    expect(refusedBy('apps/control-plane/src/nodes/probe.repository.ts', RAW_SQL)).toEqual([]);
    expect(refusedBy('apps/control-plane/src/database/probe.ts', RAW_SQL)).toEqual([]);
    expect(refusedBy('apps/control-plane/src/nodes/probe.entity.ts', RAW_SQL)).toEqual([]);
  });
});
