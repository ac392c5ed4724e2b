import { type ResultsRequestMessage, sendsResult } from '#protocol';
import type { InferenceRecord } from '../api/inference-service.js';
import type { KeptResults, KeptResultsQuery } from './kept-results.js';
import type { ResultsPolicyBook } from './results-policy-book.js';

export interface ResultsGatePorts {
  /** The results path to the control plane (ring → outbox → acknowledged publish). */
  send(seq: number, record: InferenceRecord): void;
  /** Records already encoded, answering a request: through the same outbox, acknowledged the same way. */
  sendEncoded(records: string[]): Promise<void>;
  encode(seq: number, record: InferenceRecord): string;
  onEncodeError(error: unknown): void;
}

/**
 * Where each served result goes under its release's results policy: to the control plane, or into the
 * node's kept store, from which a `results-requests` message fetches it later. The sampling decision is
 * the protocol's `sendsResult` (a hash of the inputRef), so the control plane and tests can compute
 * which results a node sends.
 */
export class ResultsGate {
  constructor(
    private readonly book: ResultsPolicyBook,
    private readonly kept: KeptResults,
    private readonly ports: ResultsGatePorts,
  ) {}

  route(seq: number, record: InferenceRecord): void {
    if (sendsResult(this.book.policyFor(record.model), record.inputRef, seq)) return this.ports.send(seq, record);
    let text: string;
    try {
      text = this.ports.encode(seq, record);
    } catch (error) {
      return this.ports.onEncodeError(error); // outside the contract: never sent, so not kept either
    }
    this.kept.keep(record.at, record.inputRef, text);
  }

  /**
   * Sends the kept results a request names (at most one batch) that were not sent on request lately
   * (`KeptResults.claim`); resolves with how many. A failed send leaves them sendable again.
   */
  async answer(request: ResultsRequestMessage): Promise<number> {
    const query: KeptResultsQuery = request.inputRefs ? { inputRefs: request.inputRefs } : { from: Date.parse(request.from ?? ''), to: Date.parse(request.to ?? '') };
    const claim = this.kept.claim(query);
    if (claim.texts.length === 0) return 0;
    try {
      await this.ports.sendEncoded(claim.texts);
    } catch (error) {
      claim.release();
      throw error;
    }
    return claim.texts.length;
  }
}
