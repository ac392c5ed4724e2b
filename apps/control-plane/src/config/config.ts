import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { BrokerCaError, isTlsBrokerUrl, readBrokerCaFile } from '#common';
import { FLEET_NAMESPACE_PATTERN } from '#protocol';
import { artifactStoreConfig, type ArtifactStoreConfig, artifactStoreSchema } from './artifact-store.config.js';

/**
 * The control plane's whole configuration, parsed from the environment exactly once at boot.
 * Nothing else reads process.env. Defaults target the local services on 127.0.0.1 (default ports).
 */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const urlWithScheme = (schemes: readonly string[]) =>
  z.string().refine(
    (value) => {
      try {
        return schemes.includes(new URL(value).protocol.replace(/:$/, ''));
      } catch {
        return false;
      }
    },
    { message: `must be a URL with scheme ${schemes.join(' or ')}` },
  );

const positiveInt = z.coerce.number().int().positive();
const booleanFlag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const envSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  DATABASE_URL: urlWithScheme(['postgres', 'postgresql']).default('postgres://postgres@127.0.0.1:5432/edgefleet'),
  DATABASE_POOL_SIZE: positiveInt.default(10),
  MIGRATIONS_RUN: booleanFlag.default(true),
  REDIS_URL: urlWithScheme(['redis', 'rediss']).default('redis://127.0.0.1:6379'),
  MQTT_URL: urlWithScheme(['mqtt', 'mqtts', 'ws', 'wss']).default('mqtt://127.0.0.1:1883'),
  MQTT_USERNAME: z.string().min(1).optional(),
  MQTT_PASSWORD: z.string().min(1).optional(),
  MQTT_CLIENT_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _, . or -').optional(),
  MQTT_SESSION_EXPIRY_SECONDS: z.coerce.number().int().min(0).default(3600),
  // The broker's max_packet_size (deploy/mosquitto/mosquitto.conf ships 1 MiB). At least what the
  // largest artifact chunk needs (128 KiB + header + topic); at most MQTT's own packet limit (256 MiB).
  MQTT_MAX_MESSAGE_BYTES: z.coerce.number().int().min(132 * 1024).max(268_435_455).default(1024 * 1024),
  MQTT_PUBLIC_URL: urlWithScheme(['mqtt', 'mqtts', 'ws', 'wss']).optional(),
  /** PEM file of the CA the broker's TLS certificate must chain to (scripts/make-tls.sh writes ca.crt). */
  MQTT_CA_FILE: z.string().min(1).optional(),
  MQTT_SHARED_GROUP: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ or -').default('edgefleet-cp'),
  MQTT_DYNSEC: booleanFlag.default(false),
  FLEET_NAMESPACE: z.string().regex(FLEET_NAMESPACE_PATTERN, 'one MQTT topic level: 1-64 letters, digits, _, - or . (not first); no + # / $ or NUL').optional(),
  KEYS_DIR: z.string().min(1).default('.edgefleet/keys'),
  MANIFEST_TTL_DAYS: positiveInt.default(365),
  /** How often each replica looks for a new root in KEYS_DIR (and reloads its signing keys). */
  TRUST_RELOAD_MS: z.coerce.number().int().min(100).max(3_600_000).default(5000),
  DESIRED_STATE_TTL_HOURS: positiveInt.optional(),
  /** Finer than hours (tests use seconds); wins over DESIRED_STATE_TTL_HOURS. Default 7 days. */
  DESIRED_STATE_TTL_SECONDS: z.coerce.number().int().min(2).max(365 * 86_400).optional(),
  CHUNK_SIZE_BYTES: z.coerce.number().int().min(1024).max(128 * 1024).default(128 * 1024),
  BROADCAST_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
  /** A real agent asks at most `repairAttempts` (5) times per download: a burst of 10 never holds it back. */
  REPAIR_REQUEST_BURST: z.coerce.number().int().min(1).max(10_000).default(10),
  REPAIR_REQUESTS_PER_MINUTE: z.coerce.number().int().min(1).max(60_000).default(12),
  /**
   * Well below the agents' `stallSeconds` (3 s; the test agents' 1 s): a node asks again only after a
   * stall, counted from its last chunk, and must then be answered. A flood arrives within milliseconds.
   */
  REPAIR_RESEND_WINDOW_MS: z.coerce.number().int().min(100).max(3_600_000).default(500),
  REPAIR_MAX_ARTIFACT_MULTIPLE: z.coerce.number().min(1).max(100).default(2),
  /** Each results request makes the node re-upload up to 1,000 kept results: a few a minute per node. */
  RESULTS_REQUEST_BURST: z.coerce.number().int().min(1).max(1000).default(5),
  RESULTS_REQUESTS_PER_MINUTE: z.coerce.number().int().min(1).max(6000).default(2),
  INGEST_FLUSH_MS: positiveInt.default(100),
  /** How long an attestation nonce is current; reports over the current or the previous one are judged. */
  ATTESTATION_NONCE_SECONDS: z.coerce.number().int().min(2).max(86_400).default(300),
  INGEST_BATCH_MAX: positiveInt.default(1000),
  /** /health fails its `ingest` check when telemetry has waited this long unwritten (a stuck or failing database). */
  INGEST_MAX_LAG_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  /** Per-version per-minute rollups maintained at ingest (docs/model-health.md); off only to measure their cost (bench/model-stats). */
  INGEST_ROLLUPS: booleanFlag.default(true),
  ARTIFACT_DIR: z.string().min(1).default('.edgefleet/artifacts'),
  /** The built web console (`npm run build` writes dist/console); served at `/` when the folder exists. */
  CONSOLE_DIR: z.string().min(1).default('dist/console'),
  ARTIFACT_MAX_BYTES: positiveInt.default(512 * 1024 * 1024),
  ...artifactStoreSchema.shape,
  /** A real model loads and runs once in well under a second; a minute means something is wrong with it. */
  ARTIFACT_CHECK_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  /** V8 heap of the check's child process; a TF.js bundle is parsed as JSON, so about 3× the artifact. */
  ARTIFACT_CHECK_MAX_HEAP_MB: z.coerce.number().int().min(64).max(65_536).default(2048),
  JSON_BODY_LIMIT_BYTES: positiveInt.default(1024 * 1024),
  ADMIN_API_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ or -').default('edgefleet'),
  ROLLOUT_WORKER: booleanFlag.default(true),
  ROLLOUT_TICK_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  ROLLOUT_WORKER_CONCURRENCY: positiveInt.default(4),
  ROLLOUT_JOB_LOCK_MS: z.coerce.number().int().min(1000).default(30_000),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  /** Each replica re-reads new events this often besides on NOTIFY (a lost LISTEN connection). */
  EVENTS_POLL_MS: z.coerce.number().int().min(20).max(60_000).default(1000),
  /** SSE comment lines keep idle proxies from closing a stream. */
  EVENTS_HEARTBEAT_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
  EVENTS_STREAM_MAX_PER_KEY: z.coerce.number().int().min(1).max(1000).default(5),
  /** A stream is closed after this long; the client resumes with Last-Event-ID and is authenticated again. */
  EVENTS_STREAM_MAX_LIFETIME_MS: z.coerce.number().int().min(1000).max(86_400_000).default(3_600_000),
  /** The longest the stream waits for an event id held by an open transaction (docs/events.md). */
  EVENTS_GAP_MAX_WAIT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  /** Let webhook URLs reach loopback, private and link-local addresses (an SSRF risk; tests set it). */
  WEBHOOK_ALLOW_PRIVATE: booleanFlag.default(false),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(8),
  /** First retry delay; doubles per attempt (BullMQ exponential backoff). */
  WEBHOOK_BACKOFF_MS: z.coerce.number().int().min(10).max(3_600_000).default(2000),
  /** A webhook is disabled after this many deliveries in a row failed all their attempts. */
  WEBHOOK_DISABLE_AFTER_FAILURES: z.coerce.number().int().min(1).max(1000).default(5),
  /** How often pending deliveries that have no job (a crash after the fan-out) are queued again. */
  WEBHOOK_SWEEP_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  /** Events older than this are deleted (docs/configuration.md#retention). */
  RETENTION_EVENTS_DAYS: z.coerce.number().int().min(1).max(36_500).default(90),
  /** Per-minute rollups: stats windows up to 6 h read them (HOURLY_FROM_SECONDS); at least 2 days are kept. */
  RETENTION_MINUTE_ROLLUPS_DAYS: z.coerce.number().int().min(2).max(36_500).default(14),
  /** Hourly rollups: stats windows up to 30 days read them, so at least 31 days are kept. */
  RETENTION_HOURLY_ROLLUPS_DAYS: z.coerce.number().int().min(31).max(36_500).default(400),
  /** How often the retention job runs (one BullMQ repeatable job between replicas). */
  RETENTION_INTERVAL_MS: z.coerce.number().int().min(1000).max(86_400_000).default(3_600_000),
  /** Rows per DELETE: short transactions, short locks, bounded WAL bursts. */
  RETENTION_BATCH_ROWS: z.coerce.number().int().min(1).max(100_000).default(5000),
  /** Batches per table per run; the rest waits for the next run, so a backlog never makes one long job. */
  RETENTION_MAX_BATCHES: z.coerce.number().int().min(1).max(10_000).default(200),
});

/** Bounds on what a node can make the control plane publish by asking for chunks (docs/security.md). */
export interface RepairLimits {
  /** Token bucket per node, shared by every replica through Redis: its size... */
  readonly requestBurst: number;
  /** ...and how many requests per minute refill it. */
  readonly requestsPerMinute: number;
  /** A chunk sent to a node (or being sent) is not sent to it again for this long, whoever asks. */
  readonly resendWindowMs: number;
  /** Repair bytes per node and deployment are capped at this multiple of the artifact's size. */
  readonly maxArtifactMultiple: number;
}

export interface AppConfig {
  readonly http: { readonly host: string; readonly port: number; readonly jsonBodyLimitBytes: number };
  readonly database: { readonly url: string; readonly poolSize: number; readonly runMigrations: boolean };
  readonly redis: { readonly url: string };
  readonly mqtt: {
    readonly url: string;
    readonly username?: string;
    readonly password?: string;
    /**
     * With an `mqtts://` or `wss://` URL: the broker's certificate must chain to these CA certificates
     * (PEM, read from MQTT_CA_FILE at boot), or to the system's trusted CAs when unset.
     */
    readonly ca?: string;
    /** What nodes connect to (defaults to `url`). */
    readonly publicUrl: string;
    /** Shared-subscription group: replicas in one group split node traffic between them. */
    readonly sharedGroup: string;
    /** Create per-node broker credentials and ACLs through Mosquitto's dynamic security plugin. */
    readonly dynsec: boolean;
    /**
     * Every topic of this installation is under `ef/v1/{fleetNamespace}/`; nodes learn it at enrolment.
     * As parsed, this is FLEET_NAMESPACE or the default for a new installation; `createApp` replaces it
     * with the namespace stored in the database (see `resolveFleetNamespace`).
     */
    readonly fleetNamespace: string;
    /** Whether FLEET_NAMESPACE was set: then it must agree with the stored namespace. */
    readonly fleetNamespaceFromEnv: boolean;
    /** Stable per replica: its persistent session (and its share of node traffic) survives reconnects. */
    readonly clientId: string;
    /** Whether MQTT_CLIENT_ID was set (otherwise the client id follows the namespace). */
    readonly clientIdFromEnv: boolean;
    readonly sessionExpirySeconds: number;
    /**
     * The largest MQTT packet the broker takes (its `max_packet_size`): an upload whose signed desired
     * state would not fit is refused, since it could never be delivered.
     */
    readonly maxMessageBytes: number;
  };
  readonly trust: {
    readonly keysDir: string;
    readonly manifestTtlDays: number;
    /** How often this replica re-reads the key directory: a rotation or revocation takes effect within it. */
    readonly reloadMs: number;
    /** How long a signed desired state is valid; retained ones are re-signed before they expire. */
    readonly desiredStateTtlSeconds: number;
    /** How often the re-signing job looks for desired states past half their lifetime. */
    readonly desiredStateRefreshMs: number;
  };
  readonly distribution: {
    readonly chunkSizeBytes: number;
    /**
     * The longest a deployment's broadcast waits for its nodes to report `downloading` (their download
     * store is open): it starts when the last one does, or after this long, whichever is first. Keep it
     * below the agents' `stallSeconds`, or a node may ask for repairs before the broadcast starts.
     */
    readonly broadcastWaitMs: number;
    readonly repair: RepairLimits;
  };
  /** `POST /v1/nodes/{id}/results-requests` per node: a token bucket shared by every replica through Redis. */
  readonly resultsRequests: { readonly burst: number; readonly perMinute: number };
  readonly ingest: {
    readonly flushMs: number;
    readonly batchMax: number;
    /** The longest the oldest unwritten telemetry item may wait before /health reports ingest down. */
    readonly maxLagMs: number;
    /** Whether ingest maintains `model_version_rollups` (the stats route reads nothing else). */
    readonly rollups: boolean;
  };
  readonly attestation: { readonly nonceSeconds: number };
  readonly artifacts: {
    /** Which store holds the blobs; with `s3`, `dir` holds only the upload check's temporary copies. */
    readonly store: ArtifactStoreConfig;
    readonly dir: string;
    readonly maxBytes: number;
    /** Past this, the upload's check (a child process) is SIGKILLed and the upload refused. */
    readonly checkTimeoutMs: number;
    /** --max-old-space-size of the check's child process. */
    readonly checkMaxHeapMb: number;
  };
  readonly auth: { readonly bootstrapAdminKey?: string };
  /** The web console's static files (absolute); nothing is served at `/` when the folder is missing. */
  readonly console: { readonly dir: string };
  readonly rollouts: {
    /** BullMQ key prefix in Redis: control planes sharing a Redis and a database share one prefix. */
    readonly queuePrefix: string;
    /** Whether this process runs rollout jobs (an API-only replica does not). */
    readonly worker: boolean;
    readonly tickMs: number;
    readonly concurrency: number;
    /** How long a job's lock lasts without renewal: a dead worker's job is retried after about this long. */
    readonly jobLockMs: number;
  };
  readonly events: {
    readonly pollMs: number;
    /** Also how often a stream re-checks its API key (a revoked key's streams are closed). */
    readonly heartbeatMs: number;
    readonly streamMaxPerKey: number;
    readonly streamMaxLifetimeMs: number;
    readonly gapMaxWaitMs: number;
  };
  readonly webhooks: {
    readonly allowPrivate: boolean;
    readonly timeoutMs: number;
    readonly maxAttempts: number;
    readonly backoffMs: number;
    readonly disableAfterFailures: number;
    readonly sweepMs: number;
  };
  readonly retention: {
    readonly eventsDays: number;
    readonly minuteRollupsDays: number;
    readonly hourlyRollupsDays: number;
    readonly intervalMs: number;
    readonly batchRows: number;
    readonly maxBatches: number;
  };
  readonly logLevel: (typeof LOG_LEVELS)[number];
}

export class ConfigError extends Error {
  constructor(
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`, options);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws a ConfigError naming every wrong variable. */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  // An empty variable means "not set": shells and compose files often export VAR= for optional values.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const store = artifactStoreConfig(e);
  if (store.problems.length > 0) throw new ConfigError(store.problems);
  const ca = e.MQTT_CA_FILE === undefined ? undefined : readBrokerCa(e.MQTT_CA_FILE, e.MQTT_URL);
  const ttl = e.DESIRED_STATE_TTL_SECONDS ?? (e.DESIRED_STATE_TTL_HOURS ?? 168) * 3600;
  const fleetNamespace = e.FLEET_NAMESPACE ?? defaultFleetNamespace(e.DATABASE_URL);
  return {
    http: { host: e.HOST, port: e.PORT, jsonBodyLimitBytes: e.JSON_BODY_LIMIT_BYTES },
    database: { url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE, runMigrations: e.MIGRATIONS_RUN },
    redis: { url: e.REDIS_URL },
    mqtt: {
      url: e.MQTT_URL,
      username: e.MQTT_USERNAME,
      password: e.MQTT_PASSWORD,
      ca,
      publicUrl: e.MQTT_PUBLIC_URL ?? e.MQTT_URL,
      sharedGroup: e.MQTT_SHARED_GROUP,
      dynsec: e.MQTT_DYNSEC,
      fleetNamespace,
      fleetNamespaceFromEnv: e.FLEET_NAMESPACE !== undefined,
      clientId: e.MQTT_CLIENT_ID ?? defaultClientId(fleetNamespace),
      clientIdFromEnv: e.MQTT_CLIENT_ID !== undefined,
      sessionExpirySeconds: e.MQTT_SESSION_EXPIRY_SECONDS,
      maxMessageBytes: e.MQTT_MAX_MESSAGE_BYTES,
    },
    trust: { keysDir: resolve(e.KEYS_DIR), manifestTtlDays: e.MANIFEST_TTL_DAYS, reloadMs: e.TRUST_RELOAD_MS, desiredStateTtlSeconds: ttl, desiredStateRefreshMs: refreshEvery(ttl) },
    distribution: {
      chunkSizeBytes: e.CHUNK_SIZE_BYTES,
      broadcastWaitMs: e.BROADCAST_WAIT_MS,
      repair: {
        requestBurst: e.REPAIR_REQUEST_BURST,
        requestsPerMinute: e.REPAIR_REQUESTS_PER_MINUTE,
        resendWindowMs: e.REPAIR_RESEND_WINDOW_MS,
        maxArtifactMultiple: e.REPAIR_MAX_ARTIFACT_MULTIPLE,
      },
    },
    resultsRequests: { burst: e.RESULTS_REQUEST_BURST, perMinute: e.RESULTS_REQUESTS_PER_MINUTE },
    ingest: { flushMs: e.INGEST_FLUSH_MS, batchMax: e.INGEST_BATCH_MAX, maxLagMs: e.INGEST_MAX_LAG_MS, rollups: e.INGEST_ROLLUPS },
    attestation: { nonceSeconds: e.ATTESTATION_NONCE_SECONDS },
    artifacts: { store: store.config, dir: resolve(e.ARTIFACT_DIR), maxBytes: e.ARTIFACT_MAX_BYTES, checkTimeoutMs: e.ARTIFACT_CHECK_TIMEOUT_MS, checkMaxHeapMb: e.ARTIFACT_CHECK_MAX_HEAP_MB },
    auth: { bootstrapAdminKey: e.ADMIN_API_KEY },
    console: { dir: resolve(e.CONSOLE_DIR) },
    rollouts: { queuePrefix: e.QUEUE_PREFIX, worker: e.ROLLOUT_WORKER, tickMs: e.ROLLOUT_TICK_MS, concurrency: e.ROLLOUT_WORKER_CONCURRENCY, jobLockMs: e.ROLLOUT_JOB_LOCK_MS },
    events: {
      pollMs: e.EVENTS_POLL_MS,
      heartbeatMs: e.EVENTS_HEARTBEAT_MS,
      streamMaxPerKey: e.EVENTS_STREAM_MAX_PER_KEY,
      streamMaxLifetimeMs: e.EVENTS_STREAM_MAX_LIFETIME_MS,
      gapMaxWaitMs: e.EVENTS_GAP_MAX_WAIT_MS,
    },
    webhooks: {
      allowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
      backoffMs: e.WEBHOOK_BACKOFF_MS,
      disableAfterFailures: e.WEBHOOK_DISABLE_AFTER_FAILURES,
      sweepMs: e.WEBHOOK_SWEEP_MS,
    },
    retention: {
      eventsDays: e.RETENTION_EVENTS_DAYS,
      minuteRollupsDays: e.RETENTION_MINUTE_ROLLUPS_DAYS,
      hourlyRollupsDays: e.RETENTION_HOURLY_ROLLUPS_DAYS,
      intervalMs: e.RETENTION_INTERVAL_MS,
      batchRows: e.RETENTION_BATCH_ROWS,
      maxBatches: e.RETENTION_MAX_BATCHES,
    },
    logLevel: e.LOG_LEVEL,
  };
}

/**
 * The CA certificates of MQTT_CA_FILE as PEM. Refused when the URL is not TLS (a CA with a plain URL
 * means the operator believes the link is protected when it is not), when the file cannot be read, or
 * when it holds no valid CA certificate.
 */
function readBrokerCa(file: string, mqttUrl: string): string {
  if (!isTlsBrokerUrl(mqttUrl)) throw new ConfigError([`MQTT_CA_FILE: is set but MQTT_URL ${mqttUrl} is not TLS (use mqtts:// or wss://)`]);
  try {
    return readBrokerCaFile(file);
  } catch (error) {
    if (!(error instanceof BrokerCaError)) throw error;
    throw new ConfigError([`MQTT_CA_FILE: ${error.message}`], { cause: error });
  }
}

/** Two installations on one host and one broker must not take over each other's session. */
function defaultClientId(fleetNamespace: string): string {
  return `edgefleet-cp-${fleetNamespace}-${hostname()}`.slice(0, 64);
}

/** The config with the installation's namespace (the stored one), and a default client id that follows it. */
export function withFleetNamespace(config: AppConfig, fleetNamespace: string): AppConfig {
  const clientId = config.mqtt.clientIdFromEnv ? config.mqtt.clientId : defaultClientId(fleetNamespace);
  return { ...config, mqtt: { ...config.mqtt, fleetNamespace, clientId } };
}

/** A quarter of the lifetime (at most hourly, at least every second): each state is re-signed at least once before it expires. */
function refreshEvery(ttlSeconds: number): number {
  return Math.min(Math.max((ttlSeconds * 1000) / 4, 1000), 3_600_000);
}

/**
 * The namespace a new installation starts with, when FLEET_NAMESPACE is unset: the database name
 * (readable in broker logs) plus a short hash of where the database is (host, port, name; not the
 * credentials), so two new installations on one broker differ without being told. It is only a
 * proposal: the first boot stores it in the database and every later boot uses the stored one, however
 * DATABASE_URL is spelled then.
 */
export function defaultFleetNamespace(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres';
  const where = `${url.hostname.toLowerCase()}:${url.port || '5432'}/${name}`;
  const readable = name.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40);
  return `${readable}-${createHash('sha256').update(where).digest('hex').slice(0, 8)}`;
}

/** Injection token for AppConfig (an interface has no runtime identity). */
export const APP_CONFIG = Symbol('APP_CONFIG');
