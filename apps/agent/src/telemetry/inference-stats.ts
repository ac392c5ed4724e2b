/**
 * Counters the heartbeat and the soak read: inferences, errors and latencies since the last heartbeat,
 * and successes/errors of one model since its activation.
 */
export class InferenceStats {
  private window = { inferences: 0, errors: 0, latencies: [] as number[] };
  private soakModel?: string;
  private soakCounts = { successes: 0, errors: 0 };

  record(modelSha256: string | undefined, ok: boolean, latencyMs: number): void {
    this.window.inferences++;
    if (!ok) this.window.errors++;
    else this.window.latencies.push(latencyMs);
    if (this.window.latencies.length > 100_000) this.window.latencies.splice(0, 50_000);
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

  /** Counters since the previous call, with latency p50/p99 (null without inferences). */
  takeWindow(): { inferences: number; errors: number; latencyMs: { p50: number; p99: number } | null } {
    const { inferences, errors, latencies } = this.window;
    this.window = { inferences: 0, errors: 0, latencies: [] };
    if (latencies.length === 0) return { inferences, errors, latencyMs: null };
    const sorted = latencies.sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
    return { inferences, errors, latencyMs: { p50: at(0.5), p99: at(0.99) } };
  }
}
