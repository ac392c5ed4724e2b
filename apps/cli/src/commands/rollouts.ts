import { type ApiClient, nodePhase, type Schemas, unwrap } from '#api-client';
import type { Command } from 'commander';
import { type CommandContext, commandContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { type Column, printJson, printRecord, printRows } from '../output.js';
import { allNodes, type RolloutNode, streamSource } from '../watch/rollout-source.js';
import { FINISHED_STATES, summarise, unfinishedHint, watchStep, type WatchSummary, WatchView } from '../watch/watch-view.js';
import { jsonObject, positiveInt, resultsPolicy, type ResultsPolicyArg } from './parse.js';
import { describePolicy } from './models.js';

type Rollout = Schemas['RolloutDto'];

const NODE_COLUMNS: readonly Column<RolloutNode>[] = [
  { header: 'NODE', value: (n) => n.nodeName },
  { header: 'WAVE', value: (n) => n.wave },
  { header: 'STATE', value: (n) => n.state },
  { header: 'PHASE', value: (n) => nodePhase(n) },
  { header: 'ATTEMPTS', value: (n) => n.attempts },
  { header: 'FAILURE', value: (n) => (n.failure ? `${n.failure.reason ?? 'failed'}${n.failure.detail ? `: ${n.failure.detail}` : ''}` : n.reason) },
];

/** A rollout as `rollouts get` shows it; the detail route's waves add a line per wave with shadow figures. */
const rolloutRecord = (r: Rollout & { readonly waves?: readonly Schemas['RolloutWaveDto'][] }) => ({
  id: r.id,
  name: r.name,
  state: r.state,
  wave: `${r.currentWave}/${r.waveSizes.length}`,
  waveSizes: r.waveSizes.join(','),
  selector: r.selector || '(all nodes)',
  results: r.resultsPolicy ? describePolicy(r.resultsPolicy) : "(the model's)",
  haltReason: r.haltReason,
  startedAt: r.startedAt,
  finishedAt: r.finishedAt,
  ...Object.fromEntries((r.waves ?? []).flatMap((w) => (w.shadow ? [[`shadow, wave ${w.wave}`, describeShadow(w.shadow)]] : []))),
});

/** A wave's shadow figures on one line, with the gate's verdict (the whole object with --json). */
export function describeShadow(s: Schemas['RolloutShadowDto']): string {
  const percent = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(1)}%`);
  const figures = [
    `${s.samples} samples from ${s.nodes} node${s.nodes === 1 ? '' : 's'} (${s.skipped} skipped, ${s.errors} errors)`,
    `agreement ${percent(s.agreement)}`,
    `divergence ${s.meanDivergence === null ? '-' : s.meanDivergence.toFixed(4)}`,
    `latency x${s.latencyRatio === null ? '-' : s.latencyRatio.toFixed(2)}`,
  ];
  return `${s.verdict}${s.reason ? ` (${s.reason})` : ''}: ${figures.join(', ')}`;
}

const ROLLOUT_COLUMNS: Column<Rollout>[] = [
  { header: 'ID', value: (r) => r.id },
  { header: 'NAME', value: (r) => r.name },
  { header: 'STATE', value: (r) => r.state },
  { header: 'WAVE', value: (r) => `${r.currentWave}/${r.waveSizes.length}` },
  { header: 'CREATED', value: (r) => r.createdAt },
];

interface CreateOptions {
  name: string;
  model?: string;
  version?: string;
  variant?: string;
  versionId?: string;
  variants?: Schemas['VariantRuleDto'][];
  selector?: string;
  waves?: string;
  strategy?: Record<string, unknown>;
  results?: ResultsPolicyArg;
  start?: boolean;
}

function jsonArray(value: string): Schemas['VariantRuleDto'][] {
  const parsed = jsonObject(`{"v":${value}}`)['v'];
  if (!Array.isArray(parsed)) throw new CliError('--variants must be a JSON array of {"modelVersionId", "match"}', ExitCode.usage);
  return parsed as Schemas['VariantRuleDto'][];
}

/** The version id from --version-id, or from --model/--version(/--variant) looked up by name. */
async function versionId(api: ApiClient, o: CreateOptions): Promise<string | undefined> {
  if (o.versionId || o.variants) return o.versionId;
  if (!o.model || !o.version) throw new CliError('say what to roll out', ExitCode.usage, 'give --model and --version (and --variant), --version-id, or --variants');
  const versions = unwrap(await api.GET('/v1/models/{name}/versions/{version}', { params: { path: { name: o.model, version: o.version } } }));
  const matching = versions.filter((v) => !o.variant || v.variant === o.variant);
  if (matching.length === 1 && matching[0]) return matching[0].id;
  if (matching.length === 0) throw new CliError(`model ${o.model} has no version ${o.version}${o.variant ? ` variant ${o.variant}` : ''}`, ExitCode.notFound, 'see the versions with the API: GET /v1/models/{name}/versions');
  throw new CliError(`version ${o.version} has variants ${matching.map((v) => v.variant).join(', ')}`, ExitCode.usage, 'pick one with --variant, or give --variants rules per hardware');
}

async function createBody(api: ApiClient, o: CreateOptions): Promise<Schemas['CreateRolloutDto']> {
  const strategy = { ...(o.strategy ?? {}), ...(o.waves ? { waves: { percentages: o.waves.split(',').map(Number) } } : {}) };
  return { name: o.name, modelVersionId: await versionId(api, o), variants: o.variants, selector: o.selector, strategy, resultsPolicy: o.results };
}

function targetOptions(command: Command): Command {
  return command
    .requiredOption('--name <name>', 'what the rollout is')
    .option('--model <model>', 'the model to roll out (with --version)')
    .option('--version <semver>', 'the version (with --model)')
    .option('--variant <variant>', 'the variant, when the version has several')
    .option('--version-id <uuid>', 'the model version id, instead of --model/--version')
    .option('--variants <json>', 'variant rules per hardware, e.g. [{"modelVersionId":"…","match":{"maxRamMb":1024}},{"modelVersionId":"…"}]', jsonArray)
    .option('-l, --selector <selector>', 'label selector of the nodes (default: all)')
    .option('--waves <percentages>', 'cumulative wave sizes, e.g. 5,25,100')
    .option('--strategy <json>', 'the full strategy (docs/rollouts.md)', jsonObject)
    .option('--results <policy>', "what its nodes send of their inference results, over the model's policy: all, aggregates or sample:RATE", resultsPolicy);
}

/** The one-call state changes: POST /v1/rollouts/{id}/<action>. */
const ACTIONS = {
  start: 'start a draft rollout',
  pause: 'stop dispatching until resumed',
  resume: 'continue a paused or halted rollout',
  approve: 'approve a rollout that requires approval',
} as const;

export function registerRollouts(program: Command): void {
  const rollouts = program.command('rollouts').description('staged rollouts: plan, create, drive and watch');
  rollouts
    .command('ls')
    .description('list rollouts, newest first')
    .option('--state <state>', 'only rollouts in this state')
    .action(async (o: { state?: Rollout['state'] }, command: Command) => {
      const ctx = await commandContext(command);
      printRows(unwrap(await ctx.api.GET('/v1/rollouts', { params: { query: { state: o.state } } })), ROLLOUT_COLUMNS, ctx.output);
    });
  rollouts
    .command('get <id>')
    .description('show a rollout')
    .action(async (id: string, _o: unknown, command: Command) => {
      const ctx = await commandContext(command);
      const r = unwrap(await ctx.api.GET('/v1/rollouts/{id}', { params: { path: { id } } }));
      if (ctx.output.json) printJson(r);
      else printRecord(rolloutRecord(r), ctx.output);
    });
  rollouts
    .command('nodes <id>')
    .description("a rollout's nodes: wave, state, the phase each reported, and why a node failed")
    .option('--failed', 'only nodes that failed (or failed to revert)')
    .addHelpText('after', '\nExample:\n  $ edgefleet rollouts nodes 0b5c… --failed')
    .action(async (id: string, o: { failed?: boolean }, command: Command) => {
      const ctx = await commandContext(command);
      const nodes = await allNodes(ctx.api, id);
      printRows(o.failed ? nodes.filter((n) => n.state === 'failed' || n.state === 'revert-failed') : nodes, NODE_COLUMNS, ctx.output);
    });
  targetOptions(rollouts.command('dry-run'))
    .description('plan a rollout without creating it: nodes, variants, bytes, waves')
    .addHelpText('after', '\nExample:\n  $ edgefleet rollouts dry-run --name try --model digits --version 1.3.0 -l site=lyon --waves 10,100')
    .action(async (o: CreateOptions, command: Command) => {
      const ctx = await commandContext(command);
      const plan = unwrap(await ctx.api.POST('/v1/rollouts/dry-run', { body: await createBody(ctx.api, o) }));
      if (ctx.output.json) return printJson(plan);
      printRows(plan.variants, [
        { header: 'VERSION', value: (v) => v.version },
        { header: 'VARIANT', value: (v) => v.variant },
        { header: 'ENGINE', value: (v) => v.engine },
        { header: 'NODES', value: (v) => v.nodes },
        { header: 'BYTES TO SEND', value: (v) => v.bytesToNodes },
      ], ctx.output);
      process.stdout.write(`waves: ${plan.waveSizes.join(', ')} nodes; ${plan.unmatched} matching nodes no variant accepts\n`);
    });
  rollouts
    .command('results-policy <id> <policy>')
    .description("change what a rollout's nodes send of their inference results: all, aggregates or sample:RATE")
    .addHelpText('after', '\nExample:\n  $ edgefleet rollouts results-policy 3f0c… sample:0.05')
    .action(async (id: string, policy: string, _o: unknown, command: Command) => {
      const body = resultsPolicy(policy); // arguments first: a bad one is reported even when not logged in
      const ctx = await commandContext(command);
      const set = unwrap(await ctx.api.PUT('/v1/rollouts/{id}/results-policy', { params: { path: { id } }, body }));
      printRecord({ rollout: set.rolloutId, results: describePolicy(set.resultsPolicy), republished: set.republishedNodes }, ctx.output);
    });
  targetOptions(rollouts.command('create'))
    .description('create a rollout (a draft, unless --start)')
    .option('--start', 'start it at once')
    .addHelpText('after', '\nExamples:\n  $ edgefleet rollouts create --name "digits 1.3" --model digits --version 1.3.0 -l site=lyon --waves 5,25,100 --start\n  $ id=$(edgefleet rollouts create --name canary --version-id "$VID" --json | jq -r .id)')
    .action(async (o: CreateOptions, command: Command) => {
      const ctx = await commandContext(command);
      let rollout = unwrap(await ctx.api.POST('/v1/rollouts', { body: await createBody(ctx.api, o) }));
      if (o.start) rollout = unwrap(await ctx.api.POST('/v1/rollouts/{id}/start', { params: { path: { id: rollout.id } }, body: {} }));
      printRecord(rolloutRecord(rollout), ctx.output);
    });
  for (const [action, description] of Object.entries(ACTIONS) as [keyof typeof ACTIONS, string][]) {
    rollouts
      .command(`${action} <id>`)
      .description(description)
      .action(async (id: string, _o: unknown, command: Command) => {
        const ctx = await commandContext(command);
        printRecord(rolloutRecord(await act(ctx, action, id)), ctx.output);
      });
  }
  rollouts
    .command('abort <id>')
    .description('stop a rollout for good')
    .option('--reason <text>')
    .option('--rollback', 'return the nodes it reached to their previous version')
    .action(async (id: string, o: { reason?: string; rollback?: boolean }, command: Command) => {
      const ctx = await commandContext(command);
      const r = unwrap(await ctx.api.POST('/v1/rollouts/{id}/abort', { params: { path: { id } }, body: { reason: o.reason, rollback: o.rollback } }));
      printRecord(rolloutRecord(r), ctx.output);
    });
  rollouts
    .command('rollback <id>')
    .description('return the nodes a finished rollout reached to their previous version')
    .option('--reason <text>')
    .action(async (id: string, o: { reason?: string }, command: Command) => {
      const ctx = await commandContext(command);
      printRecord(rolloutRecord(unwrap(await ctx.api.POST('/v1/rollouts/{id}/rollback', { params: { path: { id } }, body: { reason: o.reason } }))), ctx.output);
    });
  registerWatch(rollouts);
}

async function act(ctx: CommandContext, action: keyof typeof ACTIONS, id: string): Promise<Rollout> {
  const path = { id };
  switch (action) {
    case 'start':
      return unwrap(await ctx.api.POST('/v1/rollouts/{id}/start', { params: { path }, body: {} }));
    case 'pause':
      return unwrap(await ctx.api.POST('/v1/rollouts/{id}/pause', { params: { path } }));
    case 'resume':
      return unwrap(await ctx.api.POST('/v1/rollouts/{id}/resume', { params: { path } }));
    case 'approve':
      return unwrap(await ctx.api.POST('/v1/rollouts/{id}/approve', { params: { path } }));
  }
}

/** How long a finished watch waits for the event that finished the rollout, so its output ends on it. */
const TERMINAL_EVENT_GRACE_MS = 5000;

/**
 * Draws snapshots until the rollout is finished and the event that finished it has come (the state change
 * and its event commit together, so it is on its way unless the rollout was finished before the watch).
 * Returns the last summary, or undefined when `stop` fired first (the timeout).
 */
async function follow(ctx: CommandContext, id: string, stop: AbortController): Promise<WatchSummary | undefined> {
  const view = ctx.output.json ? undefined : new WatchView();
  const note = (text: string) => (view ? view.note(text) : process.stderr.write(`${text}\n`));
  const seen = new Set<string>();
  let last: WatchSummary | undefined;
  let printed = '';
  let grace: NodeJS.Timeout | undefined;
  try {
    for await (const snapshot of streamSource(ctx.api, { note })(id, stop.signal)) {
      const first = last === undefined;
      last = view ? view.render(snapshot) : summarise(snapshot);
      const line = JSON.stringify(last);
      // A read between events (a quiet stream) is printed only when something changed.
      if (ctx.output.json && line !== printed) process.stdout.write(`${line}\n`);
      printed = line;
      for (const e of snapshot.events) seen.add(e.type);
      const next = watchStep(last.state, first, seen);
      if (next === 'done') break;
      if (next === 'follow') {
        // Not finished (or resumed after a halt): no deadline, and a later finish waits for its own event.
        clearTimeout(grace);
        grace = undefined;
        seen.clear();
      } else grace ??= setTimeout(() => stop.abort(), TERMINAL_EVENT_GRACE_MS);
    }
  } finally {
    clearTimeout(grace);
  }
  if (last && FINISHED_STATES.has(last.state)) view?.finish(last);
  return last && FINISHED_STATES.has(last.state) ? last : undefined;
}

function registerWatch(rollouts: Command): void {
  rollouts
    .command('watch <id>')
    .description('follow a rollout live from the event stream until it finishes: a bar per wave, nodes per phase, events, halts with their reasons')
    .option('--timeout <seconds>', 'give up after this long (exit 1)', positiveInt)
    .addHelpText('after', '\nExit status: 0 when the rollout completes; 1 when it halts, is aborted or superseded (or --timeout passes).\nWith --json: one summary per batch of events, its `events` naming them, and one when nodes move on between events (read every 5 s).\n\nExample:\n  $ edgefleet rollouts watch 0b5c… && echo shipped')
    .action(async (id: string, o: { timeout?: number }, command: Command) => {
      const ctx = await commandContext(command);
      const stop = new AbortController();
      const timer = o.timeout ? setTimeout(() => stop.abort(), o.timeout * 1000) : undefined;
      try {
        const summary = await follow(ctx, id, stop);
        if (!summary) throw new CliError(`rollout ${id} did not finish within ${o.timeout} s`, ExitCode.failed);
        if (summary.state !== 'completed') throw new CliError(`rollout ${summary.name} ${summary.state}${summary.haltReason ? `: ${summary.haltReason}` : ''}`, ExitCode.failed, unfinishedHint(summary.state, id, summary));
      } finally {
        clearTimeout(timer);
      }
    });
}
