import { type Schemas, unwrap } from '#api-client';
import { SingleBar } from 'cli-progress';
import { type Command, Option } from 'commander';
import { type CommandContext, commandContext } from '../context.js';
import { type Column, printRecord, printRows } from '../output.js';
import { type ArtifactFormat, detectFileFormat, ENGINE_FOR_FORMAT } from '../push/detect-format.js';
import { autoSelfTestInput, readReferenceStats, readSelfTest, runLocally, type SelfTest } from '../push/local-check.js';
import { uploadVersion } from '../push/multipart-upload.js';
import { jsonObject, resultsPolicy, type ResultsPolicyArg, shape } from './parse.js';

const MODEL_COLUMNS: Column<Schemas['ModelDto']>[] = [
  { header: 'NAME', value: (m) => m.name },
  { header: 'TASK', value: (m) => m.task },
  { header: 'INPUT', value: (m) => JSON.stringify(m.inputSpec['shape']) },
  { header: 'OUTPUT', value: (m) => JSON.stringify(m.outputSpec['shape']) },
  { header: 'RESULTS', value: (m) => describePolicy(m.resultsPolicy) },
  { header: 'CREATED', value: (m) => m.createdAt },
];

const VERSION_COLUMNS: Column<Schemas['ModelVersionDto']>[] = [
  { header: 'ID', value: (v) => v.id },
  { header: 'VERSION', value: (v) => v.version },
  { header: 'VARIANT', value: (v) => v.variant },
  { header: 'FORMAT', value: (v) => v.format },
  { header: 'BYTES', value: (v) => v.sizeBytes },
  { header: 'SHA256', value: (v) => v.sha256.slice(0, 12) },
  { header: 'CREATED', value: (v) => v.createdAt },
];

interface CreateOptions {
  name: string;
  task: string;
  inputShape: number[];
  outputShape: number[];
  inputName?: string;
  outputName?: string;
  labels?: string;
  description?: string;
  results?: ResultsPolicyArg;
}

interface PushOptions {
  name: string;
  version: string;
  variant: string;
  selfTest: string;
  format?: ArtifactFormat;
  preprocessing?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
  referenceStats?: string;
  encoding?: 'gzip';
}

export function registerModels(program: Command): void {
  const models = program.command('models').description('models and their versions');
  models
    .command('ls')
    .description('list models')
    .action(async (_options: unknown, command: Command) => {
      const ctx = await commandContext(command);
      printRows(unwrap(await ctx.api.GET('/v1/models')), MODEL_COLUMNS, ctx.output);
    });
  models
    .command('versions <name>')
    .description("list a model's versions and variants")
    .action(async (name: string, _options: unknown, command: Command) => {
      const ctx = await commandContext(command);
      printRows(unwrap(await ctx.api.GET('/v1/models/{name}/versions', { params: { path: { name } } })), VERSION_COLUMNS, ctx.output);
    });
  models
    .command('create')
    .description('create a model: the input and output every version must take and give')
    .requiredOption('--name <name>', 'lowercase letters, digits and dashes')
    .requiredOption('--task <task>', 'e.g. image-classification')
    .requiredOption('--input-shape <dims>', 'e.g. 1,28,28,1', shape)
    .requiredOption('--output-shape <dims>', 'e.g. 1,10', shape)
    .option('--input-name <name>', 'the graph input to feed (default: the first)')
    .option('--output-name <name>', 'the graph output to read (default: the first)')
    .option('--labels <list>', 'class labels, comma-separated')
    .option('--description <text>')
    .option('--results <policy>', 'what nodes send of their inference results: all (default), aggregates, or sample:RATE (e.g. sample:0.1)', resultsPolicy)
    .addHelpText('after', '\nExample:\n  $ edgefleet models create --name digits --task image-classification --input-shape 1,28,28,1 --output-shape 1,10 --labels 0,1,2,3,4,5,6,7,8,9')
    .action(async (o: CreateOptions, command: Command) => {
      const ctx = await commandContext(command);
      const spec = (dims: number[], name?: string) => ({ shape: dims, dtype: 'float32', ...(name ? { name } : {}) });
      const body = { name: o.name, task: o.task, description: o.description, inputSpec: spec(o.inputShape, o.inputName), outputSpec: spec(o.outputShape, o.outputName), classLabels: o.labels?.split(','), resultsPolicy: o.results };
      const model = unwrap(await ctx.api.POST('/v1/models', { body }));
      printRecord({ id: model.id, name: model.name, task: model.task, input: JSON.stringify(model.inputSpec), output: JSON.stringify(model.outputSpec), results: describePolicy(model.resultsPolicy) }, ctx.output);
    });
  models
    .command('results-policy <name> <policy>')
    .description('set what the nodes running this model send of their inference results: all, aggregates or sample:RATE')
    .addHelpText('after', '\nExamples:\n  $ edgefleet models results-policy digits sample:0.1\n  $ edgefleet models results-policy digits aggregates')
    .action(async (name: string, policy: string, _o: unknown, command: Command) => {
      const body = resultsPolicy(policy); // arguments first: a bad one is reported even when not logged in
      const ctx = await commandContext(command);
      const set = unwrap(await ctx.api.PUT('/v1/models/{name}/results-policy', { params: { path: { name } }, body }));
      printRecord({ model: set.model, results: describePolicy(set.resultsPolicy), republished: set.republishedNodes }, ctx.output);
    });
  models
    .command('push <file>')
    .description('check a model file locally with its engine, then upload it as a signed version (with a progress bar)')
    .requiredOption('--name <model>', 'the model (edgefleet models create)')
    .requiredOption('--version <semver>', 'e.g. 1.3.0')
    .option('--variant <variant>', 'e.g. fp32, int8', 'default')
    .option('--self-test <auto|FILE|none>', 'auto: a deterministic input, its output computed here; FILE: JSON {"input":[…],"expectedOutput":[…]?}; none: ship without one', 'auto')
    .addOption(new Option('--format <format>', 'override the format detected from the bytes').choices(['onnx', 'tflite', 'tfjs']))
    .option('--preprocessing <json>', 'what nodes apply before inference, e.g. {"scale":0.00392156862745098}', jsonObject)
    .option('--metrics <json>', 'e.g. {"accuracy":0.984}', jsonObject)
    .option('--reference-stats <file>', 'JSON reference statistics from training, signed into the manifest for drift (docs/drift.md)')
    .addOption(new Option('--encoding <encoding>', 'ship it compressed (the control plane stores and sends the gzip form; agents before this option refuse such a deployment)').choices(['gzip']))
    .addHelpText('after', '\nExamples:\n  $ edgefleet models push digits-int8.onnx --name digits --version 1.3.0 --variant int8\n  $ edgefleet models push digits-pruned.onnx --name digits --version 1.4.0 --variant pruned --encoding gzip\n  $ edgefleet models push model.tflite --name digits --version 1.3.0 --self-test golden.json')
    .action(async (file: string, o: PushOptions, command: Command) => {
      const ctx = await commandContext(command);
      const version = await pushVersion(ctx, file, o);
      const wire = version.wire ? { encoding: version.wire.encoding, wireSizeBytes: version.wire.sizeBytes } : {};
      printRecord({ id: version.id, model: version.model, version: version.version, variant: version.variant, format: version.format, engine: version.engine, sha256: version.sha256, sizeBytes: version.sizeBytes, ...wire }, ctx.output);
    });
}

async function pushVersion(ctx: CommandContext, file: string, o: PushOptions): Promise<Schemas['ModelVersionDto']> {
  const detected = o.format ? { format: o.format, engine: ENGINE_FOR_FORMAT[o.format] } : await detectFileFormat(file);
  const model = unwrap(await ctx.api.GET('/v1/models/{name}', { params: { path: { name: o.name } } }));
  const check = { path: file, ...detected, inputSpec: model.inputSpec, outputSpec: model.outputSpec, preprocessing: o.preprocessing };
  const inputSize = (model.inputSpec['shape'] as number[]).reduce((a, d) => a * d, 1);
  let selfTest: SelfTest | undefined;
  if (o.selfTest !== 'none') selfTest = await runLocally(check, o.selfTest === 'auto' ? { input: autoSelfTestInput(inputSize) } : await readSelfTest(o.selfTest));
  else await runLocally(check, { input: new Array<number>(inputSize).fill(0) });
  const referenceStats = o.referenceStats === undefined ? undefined : await readReferenceStats(o.referenceStats);
  const selfTestNote = o.selfTest === 'none' ? 'no self-test' : o.selfTest === 'auto' ? 'self-test output computed' : 'self-test checked';
  progressNote(ctx, `${file}: ${detected.format} on ${detected.engine}, loads and runs locally, ${selfTestNote}`);
  const bar = ctx.output.json ? undefined : new SingleBar({ format: 'upload [{bar}] {percentage}% {value}/{total} bytes', stream: process.stderr, noTTYOutput: true, notTTYSchedule: 1000, hideCursor: true });
  let started = false;
  try {
    return await uploadVersion({
      baseUrl: ctx.url,
      apiKey: ctx.apiKey,
      model: o.name,
      filePath: file,
      fields: { version: o.version, variant: o.variant, ...detected, preprocessing: o.preprocessing, metrics: o.metrics, referenceStats, selfTest, skipSelfTest: selfTest ? undefined : true, encoding: o.encoding },
      // Started on the first bytes: the total (fields + file + trailer) is known only then.
      onProgress: (sent, total) => (started ? bar?.update(sent) : (bar?.start(total, sent), (started = true))),
    });
  } finally {
    bar?.stop();
  }
}

const progressNote = (ctx: CommandContext, text: string) => {
  if (!ctx.output.json) process.stderr.write(`${text}\n`);
};

/** `all`, `aggregates` or `sample:0.1`: the form the flags take. */
export function describePolicy(policy: Schemas['ResultsPolicyDto'] | null | undefined): string {
  if (!policy) return '-';
  return policy.mode === 'sample' ? `sample:${policy.rate ?? '?'}` : policy.mode;
}
