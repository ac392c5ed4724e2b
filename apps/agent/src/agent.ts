import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { EncodedRecords, envelopeFields, MAX_RESULTS_PER_BATCH, ResultRecordEncoder, toSafeText } from '#protocol';
import { InferenceService, resultRecord } from './api/inference-service.js';
import { LocalApi } from './api/local-api.js';
import { issueLocalApiToken } from './api/local-api-token.js';
import {
  type AgentConfig,
  DEFAULT_INFER_CONCURRENT_RUNS,
  DEFAULT_INFER_MAX_IN_FLIGHT,
  DEFAULT_KEPT_RESULTS,
  DEFAULT_LOCAL_API_SOCKET_MODE,
  DEFAULT_LOCAL_API_TOKEN_FILE_MODE,
} from './config.js';
import { createEngines, SessionHolder } from '#inference';
import type { NodeIdentity } from './state/identity.js';
import { SlotStore } from './state/slots.js';
import { InferenceStats } from './telemetry/inference-stats.js';
import { DEFAULT_DRIFT, DriftMonitor } from './telemetry/drift-monitor.js';
import { ResultsOutbox } from './telemetry/results-outbox.js';
import { ResultsRing } from './telemetry/results-ring.js';
import { KeptResults } from './telemetry/kept-results.js';
import { KeptResultsFile } from './telemetry/kept-results-file.js';
import { ResultsGate } from './telemetry/results-gate.js';
import { ResultsPolicyBook } from './telemetry/results-policy-book.js';
import { Attestor } from './telemetry/attestor.js';
import { MqttTransport } from './transport/mqtt-transport.js';
import { Updater } from './update/updater.js';
import { ShadowTap } from './shadow/shadow-evaluator.js';
import { shadowReportOf } from './shadow/shadow-report.js';
import { TrustedRoot } from './state/trusted-root.js';

export const AGENT_VERSION = '0.1.0';
const DEFAULT_INFER_TIMEOUT_SECONDS = 10;

export function log(level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), msg: message, ...fields })}\n`);
}

/** The running agent: serving, updating, reporting. One per node. */
export class Agent {
  private readonly holder = new SessionHolder();
  private readonly stats = new InferenceStats();
  private readonly shadowTap = new ShadowTap();
  private shadowSeq = Date.now() * 1000; // node-scoped and increasing across restarts, like resultSeq
  private readonly slots: SlotStore;
  private readonly transport: MqttTransport;
  private readonly updater: Updater;
  private readonly api: LocalApi;
  private readonly inference: InferenceService;
  private readonly results: ResultsRing;
  private readonly outbox: ResultsOutbox;
  private readonly policies = new ResultsPolicyBook();
  private readonly kept: KeptResults;
  private readonly gate: ResultsGate;
  private readonly drift: DriftMonitor;
  private readonly started = Date.now();
  private resultSeq = Date.now() * 1000; // node-scoped and increasing across restarts
  /** Encodes every result record (the ring's and the kept store's): it keeps the serving model's text. */
  private readonly resultEncoder = new ResultRecordEncoder();
  private heartbeatTimer?: NodeJS.Timeout;
  private readonly attestor: Attestor;
  apiPort = 0;

  /** Opens the node's root of trust (pinned at enrolment, then every newer root it verified) and builds the agent. */
  static async open(config: AgentConfig, identity: NodeIdentity): Promise<Agent> {
    return new Agent(config, identity, await TrustedRoot.open(config.stateDir, identity.root, log));
  }

  private constructor(
    private readonly config: AgentConfig,
    private readonly identity: NodeIdentity,
    private readonly trust: TrustedRoot,
  ) {
    this.slots = new SlotStore(config.stateDir);
    this.attestor = new Attestor(identity.nodeId, identity.signingKey);
    this.drift = new DriftMonitor({
      window: config.drift?.window ?? DEFAULT_DRIFT.window,
      minSamples: config.drift?.minSamples ?? DEFAULT_DRIFT.minSamples,
      valuesPerInput: config.drift?.valuesPerInput ?? DEFAULT_DRIFT.valuesPerInput,
    });
    // brokerUrl applies at every start, not only at enrolment: it is how an enrolled node moves to TLS.
    const broker = config.brokerUrl === undefined ? identity : { ...identity, mqtt: { ...identity.mqtt, url: config.brokerUrl } };
    this.transport = new MqttTransport(broker, {
      // A desired state is verified only after every root that came before it is walked to (and stored).
      onDesired: (m) => void this.trust.settled().then(() => this.updater.onDesired(m)),
      onRoot: (envelope) => this.trust.offer(envelope),
      onChunk: (sha, i, data) => this.updater.onChunk(sha, i, data),
      onConnectionChange: (connected) => {
        this.updater.connectionChanged(connected);
        if (!connected) return;
        this.outbox.resend(true);
        void this.updater.resendUnackedStatus();
      },
      onAttestationNonce: (nonce) => this.attestor.heardNonce(nonce),
      onResultsRequest: (request) =>
        void this.gate.answer(request).then(
          (sent) => log('info', 'sent kept results on request', { requestId: request.id, sent }),
          (error: unknown) => log('warn', 'could not send kept results on request', { requestId: request.id, err: error instanceof Error ? error.message : String(error) }),
        ),
      onAck: ({ results, statusSeq }) => {
        if (results) void this.outbox.acknowledge(results).catch((error: unknown) => log('warn', 'could not update the results spool', { err: String(error) }));
        if (statusSeq !== undefined) this.updater.statusAcknowledged(statusSeq);
      },
      log,
    }, AGENT_VERSION, config.mqttCaFile !== undefined && config.mqttCa !== undefined ? { file: config.mqttCaFile, pem: config.mqttCa } : undefined);
    this.updater = new Updater(config, trust, identity.nodeId, this.slots, this.holder, createEngines(config.onnx), this.stats, {
      // The detail often quotes an engine's error: fitted to the schema, or the whole report would be refused.
      report: (deploymentId, seq, state, extra) =>
        this.transport.publish('status', { ...envelopeFields(), seq, deploymentId, state, ...extra, ...(extra?.detail === undefined ? {} : { detail: toSafeText(extra.detail, 1000) }) }),
      requestChunks: (sha256, missing) => this.transport.publish('artifact-requests', { ...envelopeFields(), sha256, missing }),
      adoptResultsPolicy: (model, policy) => this.policies.adopt(model, policy),
      adoptReferenceStats: (model, stats) => this.drift.adopt(model, stats),
      shadow: { tap: this.shadowTap, report: (report) => this.transport.publish('shadow', shadowReportOf(++this.shadowSeq, report)) },
      log,
    });
    // Not connected yet: a download resumed from the journal waits for the broker before it counts stalls.
    this.updater.connectionChanged(false);
    this.inference = new InferenceService(
      this.holder,
      this.stats,
      (record, input) => {
        this.drift.observe(record.model, input, record.confidence);
        this.gate.route(++this.resultSeq, record);
      },
      {
        timeoutMs: (config.inferTimeoutSeconds ?? DEFAULT_INFER_TIMEOUT_SECONDS) * 1000,
        maxInFlight: config.inferMaxInFlight ?? DEFAULT_INFER_MAX_IN_FLIGHT,
        concurrentRuns: config.inferConcurrentRuns ?? DEFAULT_INFER_CONCURRENT_RUNS,
      },
      (input, answer) => this.shadowTap.offer(input, answer),
    );
    trust.onAdvanced(() => this.updater.retryUnderNewRoot());
    this.api = new LocalApi({
      infer: (input, ref) => this.inference.infer(input, ref), status: () => this.status(),
      healthy: () => this.holder.model !== undefined,
      warnings: () => (this.trust.expired ? ['root-expired'] : []),
    });
    this.outbox = new ResultsOutbox(
      join(config.stateDir, 'results-spool.jsonl'),
      config.resultsBufferMax,
      (message) => this.transport.publishEncoded('results', message),
      () => this.transport.connected,
    );
    const keep = { ...DEFAULT_KEPT_RESULTS, ...config.keptResults };
    const maxBytes = keep.maxMb * 1024 * 1024;
    // Rewritten once the appends since the last rewrite pass twice the bound: the file stays near it.
    const keptFile = new KeptResultsFile(join(config.stateDir, 'kept-results.jsonl'), 2 * maxBytes + 1024 * 1024, (error) =>
      log('warn', 'could not write the kept results file', { err: error instanceof Error ? error.message : String(error) }),
    );
    this.kept = new KeptResults({ maxAgeMs: keep.maxHours * 3_600_000, maxBytes, resendAfterMs: keep.resendMinutes * 60_000 }, Date.now, keptFile);
    this.gate = new ResultsGate(this.policies, this.kept, {
      send: (seq, record) => this.results.push(seq, record),
      sendEncoded: async (records) => {
        for (const batch of EncodedRecords.batches(records, MAX_RESULTS_PER_BATCH)) await this.outbox.send(batch);
      },
      encode: (seq, record) => resultRecord(seq, record, this.resultEncoder),
      onEncodeError: (error) => log('warn', 'a result outside the contract was not kept', { err: error instanceof Error ? error.message : String(error) }),
    });
    this.results = new ResultsRing({
      encode: (seq, record) => resultRecord(seq, record, this.resultEncoder),
      write: (records) => this.outbox.send(records),
      // Each batch costs the event loop a spool append, a publish and an acknowledgement whatever its size,
      // and each holds up the requests arriving then: at a few per second they set the serving p99
      // (bench/agent-http.ts, 500 every 250 ms: 1.3–1.5x a bare server's at concurrency 1). Results reach
      // the control plane up to a second later.
      maxBatch: MAX_RESULTS_PER_BATCH,
      flushMs: 1000,
      maxRecords: config.resultsBufferMax,
      onDrop: (count) => log('warn', 'results buffer full; dropped the oldest', { count }),
      onError: (error, count) => log('warn', 'could not spool results; kept for a retry', { count, err: error instanceof Error ? error.message : String(error) }),
      onUnencodable: (error, count) => log('error', 'results outside the contract were not sent', { count, err: error instanceof Error ? error.message : String(error) }),
    });
  }

  async start(): Promise<void> {
    await this.outbox.open();
    await this.kept.open();
    await this.updater.start();
    await this.startLocalApi();
    this.transport.start();
    this.heartbeatTimer = setInterval(() => {
      this.trust.checkExpiry();
      void this.heartbeat();
      this.outbox.resend();
      void this.updater.resendUnackedStatus();
    }, this.config.heartbeatSeconds * 1000);
    log('info', 'agent started', {
      nodeId: this.identity.nodeId,
      apiPort: this.apiPort,
      apiSocket: this.config.localApiSocket ?? null,
      apiToken: this.config.localApiTokenFile ? 'required' : 'off',
      model: this.holder.model,
    });
  }

  /** The token (written before anything listens, so no request is ever served without it), then the listeners. */
  private async startLocalApi(): Promise<void> {
    const { localApiTokenFile, localApiSocket, apiPort } = this.config;
    if (localApiTokenFile) this.api.requireToken(await issueLocalApiToken(localApiTokenFile, this.config.localApiTokenFileMode ?? DEFAULT_LOCAL_API_TOKEN_FILE_MODE));
    if (apiPort !== null) this.apiPort = await this.api.listen(apiPort);
    if (localApiSocket) await this.api.listenOnSocket(localApiSocket, this.config.localApiSocketMode ?? DEFAULT_LOCAL_API_SOCKET_MODE);
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    await this.api.close();
    this.inference.close();
    await this.results.close().catch(() => undefined);
    await this.outbox.close().catch(() => undefined);
    await this.kept.close().catch(() => undefined);
    await this.transport.stop();
    await this.holder.close();
  }

  private status(): Record<string, unknown> {
    return {
      nodeId: this.identity.nodeId,
      phase: this.updater.phase,
      model: this.holder.model ?? null,
      uptimeS: Math.round((Date.now() - this.started) / 1000),
      connected: this.transport.connected,
      trust: { rootVersion: this.trust.current.version, rootExpires: this.trust.current.expires, rootExpired: this.trust.expired },
      results: {
        spooled: this.outbox.spooledRecords,
        dropped: this.outbox.dropped,
        policy: this.holder.model ? this.policies.policyFor(this.holder.model) : null,
        kept: this.kept.size,
        keptEvicted: this.kept.evicted,
      },
      memoryMb: Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, Math.round(v / 1024 / 1024)])),
    };
  }

  private async heartbeat(): Promise<void> {
    if (!this.transport.connected) return;
    const disk = await statfs(this.config.stateDir);
    const model = this.holder.model;
    const window = this.stats.takeWindow(model?.sha256);
    const drift = this.drift.score(model);
    await this.transport
      .publish('heartbeat', {
        ...envelopeFields(),
        seq: Date.now(),
        model: model ? { name: model.name, version: model.version, variant: model.variant, sha256: model.sha256 } : null,
        uptimeS: Math.round((Date.now() - this.started) / 1000),
        cpu: process.cpuUsage().user / 1e6 / Math.max(1, (Date.now() - this.started) / 1000),
        memMb: Math.round(process.memoryUsage().rss / 1024 / 1024),
        freeDiskMb: Math.floor((disk.bavail * disk.bsize) / 1024 / 1024),
        inferences: window.inferences,
        errors: window.errors,
        latencyMs: window.latencyMs,
        ...(window.latencyHistogram ? { latencyHistogram: window.latencyHistogram } : {}),
        ...(window.confidenceHistogram ? { confidenceHistogram: window.confidenceHistogram } : {}),
        attestation: this.attestor.report(this.holder.loadedSha256),
        ...(drift ? { drift } : {}),
      })
      .catch((error: unknown) => log('warn', 'heartbeat failed', { err: String(error) }));
  }
}
