import { z } from 'zod';
import { FLEET_NAMESPACE_PATTERN } from '#protocol';
import { artifactStoreSchema } from './artifact-store.config.js';
import { PARTITION_INTERVALS } from '../retention/partition-plan.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

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

/** Every environment variable the control plane reads, with its bounds and default (docs/configuration.md). */
export const envSchema = z.object({
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
  /** Bearer secret of the broker's HTTP auth hooks (/v1/broker/*); unset: the hooks are off. */
  BROKER_HOOK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
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
  /** At most 10,000: a batch's sums of one node's counts (packed per bucket in 20 digits) stay exact. */
  INGEST_BATCH_MAX: z.coerce.number().int().min(1).max(10_000).default(1000),
  /**
   * Heartbeat writers at once (each on its own connection; a node's heartbeats always through the same one).
   * 2 gave about 1.4× the ingest throughput of 1 on the 2-core machine (bench/heartbeat-ingest).
   */
  INGEST_WRITERS: z.coerce.number().int().min(1).max(8).default(2),
  /** /health fails its `ingest` check when telemetry has waited this long unwritten (a stuck or failing database). */
  INGEST_MAX_LAG_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  /** Per-version rollups (docs/model-health.md): results' at ingest, heartbeats' by a job; off only to measure their cost (bench/model-stats). */
  INGEST_ROLLUPS: booleanFlag.default(true),
  /** How often the heartbeat rollup job runs; it rolls up whole minutes, so heartbeats reach the rollup tables 5 s to 65 s + this after receipt (read from their rows meanwhile). */
  ROLLUP_INTERVAL_MS: z.coerce.number().int().min(1000).max(600_000).default(15_000),
  /** A heartbeat whose drift score (PSI, docs/drift.md) crosses above this emits `model.drift-detected`. */
  DRIFT_EVENT_THRESHOLD: z.coerce.number().min(0.001).max(100).default(0.25),
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
  /**
   * Heartbeats, results and status events older than this are dropped a whole partition at a time
   * (docs/scaling.md#telemetry-partitions). At least 2 days: gates and drift read the last hours.
   */
  TELEMETRY_RETENTION_DAYS: z.coerce.number().int().min(2).max(36_500).default(30),
  /** The span of one telemetry partition (UTC days, or ISO weeks from Monday). */
  TELEMETRY_PARTITION_INTERVAL: z.enum(PARTITION_INTERVALS).default('day'),
  /** Partitions created ahead of the current one, so a job that misses runs never leaves rows to the default partition. */
  TELEMETRY_PARTITIONS_AHEAD: z.coerce.number().int().min(1).max(60).default(3),
});
