import { type Schemas, unwrap } from '#api-client';
import type { Command } from 'commander';
import { type CommandContext, commandContext } from '../context.js';
import { type Column, printRows } from '../output.js';
import { followEvents } from '../stream/follow-events.js';
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
  tailFilters(events.command('tail').description('follow new events live from the event stream (Ctrl-C to stop); --json prints one event per line'))
    .addHelpText('after', '\nA dropped connection is resumed with Last-Event-ID: no event is lost or repeated.\n\nExample:\n  $ edgefleet events tail --type rollout.halted,node.failed')
    .action(async (options: EventOptions, command: Command) => tail(await commandContext(command), options));
}

const tailFilters = (command: Command): Command =>
  command
    .option('--type <types>', 'comma-separated event types, e.g. rollout.halted,node.failed')
    .option('--rollout <id>', 'events of one rollout')
    .option('--node <id>', 'events of one node');

/** Prints the events stored from now on, live from GET /v1/events/stream, until interrupted. */
async function tail(ctx: CommandContext, options: EventOptions): Promise<void> {
  const filter = { type: options.type?.split(','), rollout: options.rollout, node: options.node };
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  for await (const item of followEvents(ctx.api, { filter, signal: stop.signal })) {
    if (item.kind === 'open') {
      process.stderr.write(item.resumedAfter === null ? 'following new events; Ctrl-C to stop\n' : `resumed after event ${item.resumedAfter}\n`);
    } else if (item.kind === 'dropped') {
      const reason = item.error instanceof Error ? item.error.message : String(item.error);
      process.stderr.write(`event stream dropped (${reason}); reconnecting in ${(item.retryInMs / 1000).toFixed(1)} s\n`);
    } else {
      for (const event of item.events) {
        process.stdout.write(ctx.output.json ? `${JSON.stringify(event)}\n` : `${event.createdAt}  ${event.type}  ${event.rolloutId ?? event.nodeId ?? ''}  ${JSON.stringify(event.payload)}\n`);
      }
    }
  }
}
