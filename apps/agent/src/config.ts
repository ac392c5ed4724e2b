import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { BrokerCaError, readBrokerCaFile } from '#common';

export const DEFAULT_INFER_MAX_IN_FLIGHT = 16;
export const DEFAULT_INFER_CONCURRENT_RUNS = 4;
export const DEFAULT_LOCAL_API_SOCKET_MODE = 0o660;
export const DEFAULT_LOCAL_API_TOKEN_FILE_MODE = 0o640;
export const DEFAULT_KEPT_RESULTS = { maxHours: 24, maxMb: 64, resendMinutes: 60 } as const;
/** sun_path is 108 bytes on Linux, with the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

/** A file mode written as an octal string, as in chmod: "0640" or "640". */
const fileMode = z
  .string()
  .regex(/^0?[0-7]{3}$/, 'an octal file mode such as "0640"')
  .transform((mode) => Number.parseInt(mode, 8));

/** The agent's one config file (JSON), validated once at start. */
const schema = z.strictObject({
  controlPlaneUrl: z.url(),
  stateDir: z.string().min(1),
  enrollmentToken: z.string().min(1).optional(),
  name: z.string().min(1).max(100).optional(),
  /** Overrides the broker URL the control plane hands out at enrolment. */
  brokerUrl: z.string().regex(/^(mqtts?|wss?):\/\//, 'an mqtt://, mqtts://, ws:// or wss:// URL').optional(),
  /**
   * PEM file of the CA the broker's TLS certificate must chain to (the operator's ca.crt from
   * scripts/make-tls.sh). With it, the agent connects only over TLS (mqtts:// or wss://) and only to
   * a broker certified by this CA. Without it, a TLS broker must have a certificate the system trusts.
   */
  mqttCaFile: z.string().min(1).optional(),
  /**
   * sha256 (hex) of the root the node may pin at its first enrolment (`npm run keys -- root fingerprint`):
   * the enrolment answer's root must match it, so an on-path attacker cannot hand the node a root of
   * their own over plain HTTP. Later roots are walked from the pinned one as usual.
   */
  trustRootSha256: z.string().regex(/^[0-9a-f]{64}$/, 'the 64 lowercase hex digits printed by `keys root fingerprint`').optional(),
  /** The local API's TCP port on 127.0.0.1 (0: any free port); null: no TCP listener (Unix socket only). */
  apiPort: z.number().int().min(0).max(65535).nullable().default(8421),
  /** A Unix domain socket the local API also (or only) listens on; its file gets `localApiSocketMode`. */
  localApiSocket: z.string().min(1).optional(),
  /** Default 0660: the agent's user and group may connect (connecting needs write permission). */
  localApiSocketMode: fileMode.optional(),
  /** When set, every local API request must carry `Authorization: Bearer <token>`; the token is written here at start. */
  localApiTokenFile: z.string().min(1).optional(),
  /** Default 0640: the agent's group (the on-device app's user is a member) may read it. */
  localApiTokenFileMode: fileMode.refine((mode) => (mode & 0o007) === 0, 'must not give other users access (the token would protect nothing)').optional(),
  heartbeatSeconds: z.number().min(0.1).max(3600).default(10),
  /** Commit after this many good inferences or this many healthy seconds, whichever comes first. */
  soak: z.strictObject({ inferences: z.number().int().min(1).default(20), seconds: z.number().min(0).default(30) }).default({ inferences: 20, seconds: 30 }),
  /** A download with no new chunk for this long asks for the missing ones; after `repairAttempts` it fails. */
  stallSeconds: z.number().min(0.1).default(3),
  repairAttempts: z.number().int().min(1).default(5),
  resultsBufferMax: z.number().int().min(1).default(100_000),
  /**
   * Results a results policy keeps on the node (not sent): how long and how much, so the control plane
   * can still ask for them for a feedback join. Defaults 24 h and 64 MB; 0 keeps none.
   */
  keptResults: z
    .strictObject({ maxHours: z.number().min(0).max(720).optional(), maxMb: z.number().min(0).max(10_240).optional(), resendMinutes: z.number().min(0).max(1440).optional() })
    .optional(),
  /** A local inference that takes longer answers 504 and counts as a failed inference of the model (default 10). */
  inferTimeoutSeconds: z.number().min(0.001).max(3600).optional(),
  /** Local requests admitted at once (running or waiting for the engine); beyond, 503 with Retry-After, not counted (default 16). */
  inferMaxInFlight: z.number().int().min(1).max(1024).optional(),
  /** Engine runs at once; the time bound of an admitted request starts only when its run starts (default 4, at most inferMaxInFlight). */
  inferConcurrentRuns: z.number().int().min(1).max(64).optional(),
  /** ONNX Runtime: threads per run (default 1) and busy-waiting between runs (default off); raise threads for large models. */
  onnx: z.strictObject({ threads: z.number().int().min(1).max(64).optional(), spinning: z.boolean().optional() }).optional(),
  /**
   * Shadow evaluation bounds (shadow/shadow-evaluator.ts, update/shadow-step.ts): one candidate run longer
   * than `inferenceTimeoutMs` (5,000) counts as an error against the candidate (as skipped when its thread
   * spent half of that or more waiting for a core: starved on a busy device, not slow); shadowing longer than
   * `maxSeconds` (86,400) without the control plane's decision fails the update (`shadow-failed`). Keep
   * `maxSeconds` above the rollouts' `nodeTimeoutSeconds`: the control plane decides within it.
   */
  shadow: z.strictObject({ inferenceTimeoutMs: z.number().int().min(1).max(600_000).optional(), maxSeconds: z.number().min(1).max(30 * 86_400).optional() }).optional(),
  /**
   * Drift scores (telemetry/drift-monitor.ts): over the last `window` inferences (500), once `minSamples` (200; raised to ten per degree of freedom of the reference, at most `window`);
   * `valuesPerInput` values of each input kept and binned (64). The ring is preallocated: window × valuesPerInput ≤ 4,194,304 values (16 MB).
   */
  drift: z
    .strictObject({ window: z.number().int().min(10).max(100_000).optional(), minSamples: z.number().int().min(1).max(100_000).optional(), valuesPerInput: z.number().int().min(1).max(4096).optional() })
    .refine((d) => (d.window ?? 500) * (d.valuesPerInput ?? 64) <= 4_194_304, { message: 'window × valuesPerInput must be at most 4,194,304 (the ring is 4 bytes per value)' })
    .optional(),
})
  .refine((c) => c.apiPort !== null || c.localApiSocket !== undefined, { message: 'null needs localApiSocket: the local API must listen somewhere', path: ['apiPort'] })
  .refine((c) => (c.inferConcurrentRuns ?? DEFAULT_INFER_CONCURRENT_RUNS) <= (c.inferMaxInFlight ?? DEFAULT_INFER_MAX_IN_FLIGHT), { message: 'must not exceed inferMaxInFlight', path: ['inferConcurrentRuns'] });

/** `mqttCa`: the PEM of `mqttCaFile`, read and checked once at start. */
export type AgentConfig = z.infer<typeof schema> & { readonly mqttCa?: string };

export class AgentConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentConfigError';
  }
}

export async function loadAgentConfig(path: string): Promise<AgentConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new AgentConfigError(`cannot read config ${path}: ${(error as Error).message}`, { cause: error });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new AgentConfigError(`invalid config ${path}:\n  ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n  ')}`);
  }
  const c = parsed.data;
  const socket = c.localApiSocket === undefined ? undefined : resolve(c.localApiSocket);
  if (socket !== undefined && Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
    throw new AgentConfigError(`invalid config ${path}:\n  localApiSocket: ${socket} is longer than a Unix socket path can be (${MAX_SOCKET_PATH_BYTES} bytes)`);
  }
  const mqttCaFile = c.mqttCaFile === undefined ? undefined : resolve(c.mqttCaFile);
  return {
    ...c,
    stateDir: resolve(c.stateDir),
    ...(socket === undefined ? {} : { localApiSocket: socket }),
    ...(c.localApiTokenFile === undefined ? {} : { localApiTokenFile: resolve(c.localApiTokenFile) }),
    ...(mqttCaFile === undefined ? {} : { mqttCaFile, mqttCa: readPinnedCa(path, mqttCaFile) }),
  };
}

function readPinnedCa(configPath: string, caFile: string): string {
  try {
    return readBrokerCaFile(caFile);
  } catch (error) {
    if (!(error instanceof BrokerCaError)) throw error;
    throw new AgentConfigError(`invalid config ${configPath}:\n  mqttCaFile: ${error.message}`, { cause: error });
  }
}
