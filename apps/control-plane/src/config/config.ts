// The control plane's whole configuration, parsed from the environment exactly once at boot; nothing else
// reads process.env. The variables and their bounds are in env-schema.ts, the typed result in app-config.ts.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { BrokerCaError, isTlsBrokerUrl, readBrokerCaFile } from '#common';
import { artifactStoreConfig } from './artifact-store.config.js';
import type { AppConfig } from './app-config.js';
import { envSchema } from './env-schema.js';

export type { AppConfig, RepairLimits } from './app-config.js';

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
      hookSecret: e.BROKER_HOOK_SECRET,
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
    ingest: { flushMs: e.INGEST_FLUSH_MS, batchMax: e.INGEST_BATCH_MAX, writers: e.INGEST_WRITERS, maxLagMs: e.INGEST_MAX_LAG_MS, rollups: e.INGEST_ROLLUPS, rollupIntervalMs: e.ROLLUP_INTERVAL_MS },
    drift: { eventThreshold: e.DRIFT_EVENT_THRESHOLD },
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
      telemetryDays: e.TELEMETRY_RETENTION_DAYS,
      telemetryPartitionInterval: e.TELEMETRY_PARTITION_INTERVAL,
      telemetryPartitionsAhead: e.TELEMETRY_PARTITIONS_AHEAD,
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
