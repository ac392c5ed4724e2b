import { type Schemas, unwrap } from '#api-client';
import type { Command } from 'commander';
import { commandContext } from '../context.js';
import { type Column, labelsText, printRecord, printRows } from '../output.js';
import { collect, labelPatch, positiveInt } from './parse.js';

type Node = Schemas['NodeDto'];

const NODE_COLUMNS: Column<Node>[] = [
  { header: 'ID', value: (n) => n.id },
  { header: 'NAME', value: (n) => n.name },
  { header: 'STATUS', value: (n) => n.status },
  { header: 'LABELS', value: (n) => labelsText(n.labels) },
  { header: 'MODEL VERSION', value: (n) => n.currentModelVersionId },
  { header: 'LAST SEEN', value: (n) => n.lastSeenAt },
];

interface ListOptions {
  selector?: string;
  status?: Node['status'];
  limit?: number;
}

export function registerNodes(program: Command): void {
  const nodes = program.command('nodes').description('list, inspect and label nodes');
  nodes
    .command('ls')
    .description('list nodes (all pages)')
    .option('-l, --selector <selector>', 'label selector, e.g. "site=lyon,tier in (a,b),!gpu"')
    .option('--status <status>', 'online | offline | decommissioned')
    .option('--limit <n>', 'stop after n nodes', positiveInt)
    .addHelpText('after', '\nExamples:\n  $ edgefleet nodes ls -l site=lyon\n  $ edgefleet nodes ls --status offline --json | jq -r ".[].id"')
    .action(async (options: ListOptions, command: Command) => {
      const ctx = await commandContext(command);
      const rows: Node[] = [];
      let cursor: string | undefined;
      do {
        const query = { selector: options.selector, status: options.status, cursor, limit: Math.min(1000, options.limit ?? 1000) };
        const page = unwrap(await ctx.api.GET('/v1/nodes', { params: { query } }));
        rows.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor && (options.limit === undefined || rows.length < options.limit));
      printRows(options.limit ? rows.slice(0, options.limit) : rows, NODE_COLUMNS, ctx.output);
    });
  nodes
    .command('get <id>')
    .description('show one node')
    .action(async (id: string, _options: unknown, command: Command) => {
      const ctx = await commandContext(command);
      const node = unwrap(await ctx.api.GET('/v1/nodes/{id}', { params: { path: { id } } }));
      printRecord({ ...node, labels: labelsText(node.labels) }, ctx.output);
    });
  nodes
    .command('label <id> <labels...>')
    .description('set labels (key=value) or remove them (key-)')
    .addHelpText('after', '\nExamples:\n  $ edgefleet nodes label 3f1c… tier=canary site=lyon\n  $ edgefleet nodes label 3f1c… obsolete-')
    .action(async (id: string, pairs: string[], _options: unknown, command: Command) => {
      const labels = labelPatch(pairs); // arguments first: a bad one is reported even when not logged in
      const ctx = await commandContext(command);
      const node = unwrap(await ctx.api.PATCH('/v1/nodes/{id}', { params: { path: { id } }, body: { labels } }));
      printRecord({ id: node.id, name: node.name, labels: labelsText(node.labels) }, ctx.output);
    });
}

export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').description('enrolment tokens (admin key)');
  tokens
    .command('create')
    .description('create an enrolment token; nodes enrolled with it get its labels')
    .requiredOption('--name <name>', 'what the token is for')
    .option('--label <key=value>', 'a label for the nodes (repeatable)', collect, [])
    .option('--uses <n>', 'how many nodes may enrol with it (default 1)', positiveInt)
    .option('--expires <seconds>', 'lifetime in seconds (default 24 h)', positiveInt)
    .addHelpText('after', '\nExample:\n  $ edgefleet tokens create --name lyon-batch-3 --label site=lyon --uses 50')
    .action(async (options: { name: string; label: string[]; uses?: number; expires?: number }, command: Command) => {
      const labels = Object.fromEntries(Object.entries(labelPatch(options.label)).filter((e): e is [string, string] => e[1] !== null));
      const ctx = await commandContext(command);
      const body = { name: options.name, labels, maxUses: options.uses, expiresInSeconds: options.expires };
      const created = unwrap(await ctx.api.POST('/v1/enrollment-tokens', { body }));
      printRecord({ id: created.id, token: created.token, labels: labelsText(created.labels), maxUses: created.maxUses, expiresAt: created.expiresAt }, ctx.output);
    });
}
