import { type Schemas, unwrap } from '#api-client';
import type { Command } from 'commander';
import { commandContext } from '../context.js';
import { type Column, printJson, printRows } from '../output.js';

type Group = Schemas['GroupStatsDto'];

const percent = (v: number | null): string | null => (v === null ? null : `${(v * 100).toFixed(2)}%`);
/** Percentiles are bucket bounds or interpolations: two decimals are more than their precision. */
const ms = (v: number | undefined): string | undefined => (v === undefined ? undefined : String(Number(v.toFixed(2))));

const GROUP_COLUMNS: Column<Group>[] = [
  { header: 'GROUP', value: (g) => g.key ?? '(total)' },
  { header: 'INFERENCES', value: (g) => g.inferences },
  { header: 'ERRORS', value: (g) => `${g.errors} (${percent(g.errorRate) ?? '-'})` },
  { header: 'P50 MS', value: (g) => ms(g.latencyMs?.p50) },
  { header: 'P90 MS', value: (g) => ms(g.latencyMs?.p90) },
  { header: 'P99 MS', value: (g) => ms(g.latencyMs?.p99) },
  { header: 'RESULTS', value: (g) => g.results },
  { header: 'MEAN CONF', value: (g) => g.meanConfidence?.toFixed(3) },
  { header: 'ACCURACY', value: (g) => (g.feedback.labelled > 0 ? `${percent(g.feedback.accuracy)} of ${g.feedback.labelled}` : null) },
];

export function registerStats(program: Command): void {
  program
    .command('stats <model> <version>')
    .description("how a model version does on the fleet: inferences, errors, latency percentiles, confidence, accuracy from feedback")
    .option('--window <window>', 'how far back: e.g. 30m, 6h, 7d (at most 30d)', '1h')
    .option('--group-by <group>', "per node ('node') or per value of a node label ('label:<key>')")
    .option('--variant <variant>', 'one variant only (default: all variants of the version)')
    .addHelpText('after', '\nExamples:\n  $ edgefleet stats digits 1.3.0 --window 24h\n  $ edgefleet stats digits 1.3.0 --group-by label:site --json')
    .action(async (model: string, version: string, options: { window: string; groupBy?: string; variant?: string }, command: Command) => {
      const ctx = await commandContext(command);
      const query = { window: options.window, groupBy: options.groupBy, variant: options.variant };
      const stats = unwrap(await ctx.api.GET('/v1/models/{name}/versions/{version}/stats', { params: { path: { name: model, version }, query } }));
      if (ctx.output.json) return printJson(stats);
      process.stdout.write(`${stats.model} ${stats.version} (${stats.variants.join(', ') || 'no variants'}), ${stats.window} from ${stats.from} to ${stats.to}\n`);
      printRows([stats.total, ...stats.groups], GROUP_COLUMNS, ctx.output);
    });
}
