import type { ArtifactStoreConfig } from './artifact-store.config.js';
import type { LOG_LEVELS } from './env-schema.js';
import type { PartitionInterval } from '../retention/partition-plan.js';

/** The typed configuration every module reads (through APP_CONFIG), built once by loadConfig. */
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
    /** Bearer secret the broker's HTTP auth hooks must present (EMQX); unset: the hooks answer 404. */
    readonly hookSecret?: string;
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
    /** Heartbeat writers at once, partitioned by node (INGEST_WRITERS). */
    readonly writers: number;
    /** The longest the oldest unwritten telemetry item may wait before /health reports ingest down. */
    readonly maxLagMs: number;
    /** Whether the rollups are maintained (results' at ingest, heartbeats' by the job). */
    readonly rollups: boolean;
    /** How often the heartbeat rollup job runs (ROLLUP_INTERVAL_MS). */
    readonly rollupIntervalMs: number;
  };
  /** Drift (docs/drift.md): the score above which a node's heartbeat emits `model.drift-detected`. */
  readonly drift: { readonly eventThreshold: number };
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
    readonly telemetryDays: number;
    readonly telemetryPartitionInterval: PartitionInterval;
    readonly telemetryPartitionsAhead: number;
  };
  readonly logLevel: (typeof LOG_LEVELS)[number];
}
