import { setTimeout as sleep } from 'node:timers/promises';
import { type Schemas, unwrap } from '#api-client';
import type { Command } from 'commander';
import { type CommandContext, commandContext } from '../context.js';
import { type Column, printRows } from '../output.js';
import { positiveInt } from './parse.js';

type Event = Schemas['EventDto'];

interface EventOptions {
  type?: string;
  rollout?: string;
  node?: string;
  since?: string;
  limit?: number;
}

const EVENT_COLUMNS: Column<Event>[] = [
  { header: 'ID', value: (e) => e.id },
  { header: 'AT', value: (e) => e.createdAt },
  { header: 'TYPE', value: (e) => e.type },
  { header: 'ROLLOUT', value: (e) => e.rolloutId },
  { header: 'NODE', value: (e) => e.nodeId },
  { header: 'PAYLOAD', value: (e) => e.payload },
];

async function page(ctx: CommandContext, options: EventOptions, after: string | undefined, limit: number) {
  // An array goes out as repeated `type` keys, which the route takes as well as a comma-separated list.
  const query = { type: options.type?.split(','), rollout: options.rollout, node: options.node, since: options.since, after, limit };
  return unwrap(await ctx.api.GET('/v1/events', { params: { query } }));
}

const filters = (command: Command): Command =>
  command
    .option('--type <types>', 'comma-separated event types, e.g. rollout.halted,node.failed')
    .option('--rollout <id>', 'events of one rollout')
    .option('--node <id>', 'events of one node')
    .option('--since <time>', 'ISO 8601 time');

export function registerEvents(program: Command): void {
  const events = program.command('events').description('the event log: rollouts, nodes, gates, attestation, keys');
  filters(events.command('ls').description('list events, oldest first'))
    .option('--limit <n>', 'at most n events (default 100)', positiveInt)
    .addHelpText('after', '\nExamples:\n  $ edgefleet events ls --type rollout.halted --since 2026-12-01T00:00:00Z\n  $ edgefleet events ls --node 3f1c… --json')
    .action(async (options: EventOptions, command: Command) => {
      const ctx = await commandContext(command);
      const limit = options.limit ?? 100;
      const rows: Event[] = [];
      let after: string | undefined;
      do {
        const next = await page(ctx, options, after, Math.min(1000, limit - rows.length));
        rows.push(...next.items);
        after = next.nextCursor ?? undefined;
      } while (after && rows.length < limit);
      printRows(rows, EVENT_COLUMNS, ctx.output);
    });
  filters(events.command('tail').description('follow new events as they are stored (Ctrl-C to stop); --json prints one event per line'))
    .option('--interval <ms>', 'how often to ask for new events', positiveInt, 1000)
    .addHelpText('after', '\nExample:\n  $ edgefleet events tail --type rollout.halted,node.failed')
    .action(async (options: EventOptions & { interval: number }, command: Command) => {
      const ctx = await commandContext(command);
      // Start after the newest event already stored: tail shows what happens from now on.
      let after: string | undefined = '0';
      for (let next = await page(ctx, options, after, 1000); next.items.length > 0; next = await page(ctx, options, after, 1000)) {
        after = next.items.at(-1)?.id ?? after;
        if (!next.nextCursor) break;
      }
      process.stderr.write(`following new events (after id ${after}); Ctrl-C to stop\n`);
      for (;;) {
        const next = await page(ctx, options, after, 1000);
        for (const event of next.items) {
          process.stdout.write(ctx.output.json ? `${JSON.stringify(event)}\n` : `${event.createdAt}  ${event.type}  ${event.rolloutId ?? event.nodeId ?? ''}  ${JSON.stringify(event.payload)}\n`);
          after = event.id;
        }
        if (!next.nextCursor) await sleep(options.interval);
      }
    });
}
