import { driftBin, driftMinSamples, type HeartbeatDrift, populationStabilityIndex, type ReferenceStats } from '#protocol';
import type { PolicyModel } from './results-policy-book.js';

export interface DriftSettings {
  /** Recent inferences the scores are computed over (a sliding window). */
  readonly window: number;
  /**
   * Fewer inferences than this in the window: no score. Raised to the reference's own need
   * (`driftMinSamples`: ten per degree of freedom of its widest distribution), capped at `window`.
   */
  readonly minSamples: number;
  /** Values of one input binned at most (evenly strided): bounds the heartbeat's work for wide inputs. */
  readonly valuesPerInput: number;
}

/**
 * minSamples 200: a PSI over 20 bins (what the exporter writes) of n steady samples is ≈ 19/n of pure
 * noise; at the former 50 a steady node crossed the 0.25 alarm in most windows (drift-noise.spec.ts).
 */
export const DEFAULT_DRIFT: DriftSettings = { window: 500, minSamples: 200, valuesPerInput: 64 };

/** References of the last few releases this node was told about (as the results policy book keeps policies). */
const MAX_MODELS = 8;
const keyOf = (m: PolicyModel) => `${m.name}\u0000${m.version}\u0000${m.variant}\u0000${m.sha256}`;

/**
 * Drift of the serving model's traffic against its manifest's reference statistics. The request path
 * copies at most `valuesPerInput` evenly strided values of the input, and its confidence, into a
 * preallocated ring (`observe`: no binning, no allocation; holding whole inputs would keep up to
 * `window` × 4 MB alive on a device); the binning and the PSI run when the heartbeat asks (`score`). A
 * model swap starts the window afresh, so a score never mixes two models.
 */
export class DriftMonitor {
  private readonly references = new Map<string, ReferenceStats>();
  /** `window` slots of `valuesPerInput` values each, and how many of each slot's values are set. */
  private readonly samples: Float32Array;
  private readonly sampleLengths: Uint32Array;
  private readonly confidences: Float64Array;
  private next = 0;
  private size = 0;
  private windowModel?: PolicyModel;
  private windowReference?: ReferenceStats;

  constructor(private readonly settings: DriftSettings = DEFAULT_DRIFT) {
    this.samples = new Float32Array(settings.window * settings.valuesPerInput);
    this.sampleLengths = new Uint32Array(settings.window);
    this.confidences = new Float64Array(settings.window);
  }

  /** A verified desired state named this release: its reference statistics, if its manifest has them. */
  adopt(model: PolicyModel, reference: ReferenceStats | undefined): void {
    const key = keyOf(model);
    this.references.delete(key);
    if (reference) this.references.set(key, reference);
    while (this.references.size > MAX_MODELS) this.references.delete(this.references.keys().next().value as string);
    if (this.windowModel && keyOf(this.windowModel) === key) this.windowReference = reference;
  }

  /** One served inference (the request path: a comparison and at most `valuesPerInput` copies). */
  observe(model: PolicyModel, input: Float32Array, confidence: number): void {
    if (model !== this.windowModel) this.restart(model);
    if (!this.windowReference) return;
    const { valuesPerInput } = this.settings;
    const stride = Math.max(1, Math.ceil(input.length / valuesPerInput));
    const base = this.next * valuesPerInput;
    let n = 0;
    for (let i = 0; i < input.length && n < valuesPerInput; i += stride) this.samples[base + n++] = input[i] as number;
    this.sampleLengths[this.next] = n;
    this.confidences[this.next] = confidence;
    this.next = (this.next + 1) % this.settings.window;
    this.size = Math.min(this.size + 1, this.settings.window);
  }

  /** The scores of `model`'s window, or undefined without a reference or with too few inferences. */
  score(model: PolicyModel | undefined): HeartbeatDrift | undefined {
    const reference = this.windowReference;
    if (!model || !reference || !this.windowModel || keyOf(model) !== keyOf(this.windowModel) || this.size < this.neededSamples(reference)) return undefined;
    const inputCounts = new Float64Array(reference.input.bins.edges.length + 1);
    const confidenceCounts = new Float64Array(reference.confidence.edges.length + 1);
    const { valuesPerInput } = this.settings;
    for (let k = 0; k < this.size; k++) {
      const base = k * valuesPerInput;
      const end = base + (this.sampleLengths[k] as number);
      for (let i = base; i < end; i++) inputCounts[driftBin(reference.input.bins.edges, this.samples[i] as number)]++;
      confidenceCounts[driftBin(reference.confidence.edges, this.confidences[k] as number)]++;
    }
    // Within the heartbeat's `real(0, 1000)`; rounded to 1e-6 so no sub-normal float reaches a `real` column.
    const bound = (psi: number) => Math.min(1000, Math.round(psi * 1e6) / 1e6);
    return {
      input: bound(populationStabilityIndex(reference.input.bins.fractions, inputCounts)),
      confidence: bound(populationStabilityIndex(reference.confidence.fractions, confidenceCounts)),
      samples: this.size,
    };
  }

  /** minSamples, raised to what the reference's widest distribution needs for a score above its noise, at most the window. */
  private neededSamples(reference: ReferenceStats): number {
    const bins = Math.max(reference.input.bins.edges.length, reference.confidence.edges.length) + 1;
    return Math.min(this.settings.window, Math.max(this.settings.minSamples, driftMinSamples(bins)));
  }

  private restart(model: PolicyModel): void {
    this.windowModel = model;
    this.windowReference = this.references.get(keyOf(model));
    this.next = 0;
    this.size = 0;
  }
}
