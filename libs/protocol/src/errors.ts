export type ProtocolFailure = 'too-large' | 'malformed-json' | 'unsupported-version' | 'schema' | 'bad-topic' | 'bad-chunk';

/** An inbound message that is not a valid instance of the contract. Never thrown past the edge. */
export class ProtocolError extends Error {
  constructor(
    readonly reason: ProtocolFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProtocolError';
  }
}

/** Parse results are values: the caller decides whether an invalid message is counted, logged or answered. */
export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ProtocolError };
