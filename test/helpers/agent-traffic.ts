import type { AgentProcess } from './agent-process.js';
import { bearer, type TestApp } from './test-app.js';

/** Which inputs an agent is sent: drawn from the training distribution, some made negative, or shifted away from it. */
export type TrafficMix = 'training' | 'with-negatives' | 'shifted';

/** Deterministic uniform numbers in [0, 1) (an LCG: the same run sends the same inputs). */
export function lcg(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** An input from the training distribution: every value uniform in [0, 1). */
export const trainingInput = (rand: () => number, inputs: number): number[] => Array.from({ length: inputs }, rand);

/**
 * Live traffic to real agents: each agent gets one request at a time, `pauseMs` apart (a steady, light
 * load, not a flood), each with a unique `inputRef` whose ground truth (`truth(input)`) is remembered
 * so feedback can be sent for it later. The mix of inputs can change per agent while it runs.
 */
export class AgentTraffic {
  private running = true;
  private readonly loops: Promise<void>[];
  private readonly mixes = new Map<AgentProcess, TrafficMix>();
  /** inputRef → true label, for results not yet matched by feedback. */
  private readonly unlabelled = new Map<string, number>();
  served = 0;
  failed = 0;

  constructor(
    private readonly agents: readonly AgentProcess[],
    private readonly inputs: number,
    private readonly truth: (input: number[]) => number,
    private readonly pauseMs = 40,
  ) {
    this.loops = agents.map((agent, i) => this.drive(agent, i));
  }

  mix(mix: TrafficMix, agents: readonly AgentProcess[] = this.agents): void {
    for (const agent of agents) this.mixes.set(agent, mix);
  }

  /** Drops remembered ground truth (a new scenario labels only its own traffic). */
  forgetLabels(): void {
    this.unlabelled.clear();
  }

  /**
   * Sends ground truth for the results served so far (POST /v1/feedback, up to 1,000 a call); labels the
   * control plane could not match yet (the result not stored yet) are kept for the next call.
   */
  async sendFeedback(t: TestApp): Promise<number> {
    const items = [...this.unlabelled.entries()].slice(0, 1000).map(([inputRef, label]) => ({ inputRef, label }));
    if (items.length === 0) return 0;
    const res = await t.http().post('/v1/feedback').set(bearer(t.adminKey)).send({ items }).expect(200);
    const unmatched = new Set((res.body as { unmatched: number[] }).unmatched);
    items.forEach((item, i) => {
      if (!unmatched.has(i)) this.unlabelled.delete(item.inputRef);
    });
    return items.length - unmatched.size;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async drive(agent: AgentProcess, index: number): Promise<void> {
    const rand = lcg(1000 + index);
    for (let n = 0; this.running; n++) {
      const input = this.input(this.mixes.get(agent) ?? 'training', rand, n);
      const inputRef = `a${index}-${n}`;
      try {
        const res = await fetch(`${agent.url}/v1/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input, inputRef }) });
        await res.arrayBuffer();
        if (res.ok) {
          this.served++;
          this.unlabelled.set(inputRef, this.truth(input));
        } else {
          this.failed++;
        }
      } catch {
        this.failed++; // the agent is between processes or busy: the next request tries again
      }
      await new Promise((r) => setTimeout(r, this.pauseMs));
    }
  }

  private input(mix: TrafficMix, rand: () => number, n: number): number[] {
    const x = trainingInput(rand, this.inputs);
    // One request in four all negative: NaN for a model that takes a square root first.
    if (mix === 'with-negatives' && n % 4 === 0) return x.map((v) => -v - 0.1);
    if (mix === 'shifted') return x.map((v) => v + 1.5);
    return x;
  }
}
