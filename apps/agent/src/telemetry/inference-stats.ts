import {
  CONFIDENCE_BUCKET_COUNT,
  CONFIDENCE_HISTOGRAM_LAYOUT,
  clampConfidence,
  type ConfidenceHistogram,
  confidenceBucket,
  histogramQuantile,
  LATENCY_BUCKET_COUNT,
  LATENCY_HISTOGRAM_LAYOUT,
  LATENCY_MAX_MS,
  type LatencyHistogram,
  latencyBucket,
  sparseHistogram,
} from '#protocol';

export interface StatsWindow {
  readonly inferences: number;
  readonly errors: number;
  /** p50/p99 read from the histogram (to the bucket), kept for control planes that predate it; null without inferences. */
  readonly latencyMs: { p50: number; p99: number } | null;
  /** Latencies of the successful inferences of the model asked for; absent without any. */
  readonly latencyHistogram?: LatencyHistogram;
  /** Top-class confidences of the same inferences; absent when the latency histogram is. */
  readonly confidenceHistogram?: ConfidenceHistogram;
}

/**
 * Counters the heartbeat and the soak read: inferences, errors and a latency histogram since the last
 * heartbeat, and successes/errors of one model since its activation. Recording a latency costs a bucket
 * index and an increment (bench/agent-http measures the serving path); the histogram has a fixed size
 * whatever the request rate, where the list of raw latencies it replaces grew to 100,000 entries.
 */
export class InferenceStats {
  private inferences = 0;
  private errors = 0;
  private readonly latencyCounts = new Float64Array(LATENCY_BUCKET_COUNT);
  /** Kept beside the latencies, for the same model: what the control plane reads confidence from when the results policy sends few results. */
  private readonly confidenceCounts = new Float64Array(CONFIDENCE_BUCKET_COUNT);
  private confidenceSum = 0;
  /** The model whose latencies the histogram holds: a hot swap mid-window starts it afresh, so a heartbeat never attributes one version's latencies to another. */
  private histogramModel?: string;
  private soakModel?: string;
  private soakCounts = { successes: 0, errors: 0 };

  /** `confidence` is the top class's output of a successful inference (unused for a failure). */
  record(modelSha256: string | undefined, ok: boolean, latencyMs: number, confidence = 0): void {
    this.inferences++;
    if (!ok) this.errors++;
    else {
      if (modelSha256 !== this.histogramModel) {
        this.clearHistograms();
        this.histogramModel = modelSha256;
      }
      this.latencyCounts[latencyBucket(latencyMs)]++;
      this.confidenceCounts[confidenceBucket(confidence)]++;
      this.confidenceSum += clampConfidence(confidence);
    }
    if (modelSha256 && modelSha256 === this.soakModel) {
      if (ok) this.soakCounts.successes++;
      else this.soakCounts.errors++;
    }
  }

  resetSoak(modelSha256: string): void {
    this.soakModel = modelSha256;
    this.soakCounts = { successes: 0, errors: 0 };
  }

  soak(modelSha256: string): { successes: number; errors: number } {
    return modelSha256 === this.soakModel ? { ...this.soakCounts } : { successes: 0, errors: 0 };
  }

  /** Counters since the previous call; the histograms only if they hold `modelSha256`'s inferences (the model the heartbeat names). */
  takeWindow(modelSha256?: string): StatsWindow {
    const { inferences, errors } = this;
    const counts = Array.from(this.latencyCounts);
    const confidence: ConfidenceHistogram = { layout: CONFIDENCE_HISTOGRAM_LAYOUT, counts: sparseHistogram(Array.from(this.confidenceCounts)), sum: this.confidenceSum };
    const sameModel = modelSha256 !== undefined && modelSha256 === this.histogramModel;
    this.inferences = 0;
    this.errors = 0;
    this.clearHistograms();
    const p50 = histogramQuantile(counts, 0.5);
    const p99 = histogramQuantile(counts, 0.99);
    // The overflow bucket has no finite bound: report the largest finite one (the column is a real).
    const finite = (ms: number) => (Number.isFinite(ms) ? ms : LATENCY_MAX_MS);
    const latencyMs = p50 === null || p99 === null ? null : { p50: finite(p50), p99: finite(p99) };
    if (!sameModel || latencyMs === null) return { inferences, errors, latencyMs };
    return { inferences, errors, latencyMs, latencyHistogram: { layout: LATENCY_HISTOGRAM_LAYOUT, counts: sparseHistogram(counts) }, confidenceHistogram: confidence };
  }

  private clearHistograms(): void {
    this.latencyCounts.fill(0);
    this.confidenceCounts.fill(0);
    this.confidenceSum = 0;
  }
}
