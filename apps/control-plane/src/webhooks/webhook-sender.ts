import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { EdgeFleetError } from '#common';
import { isPrivateAddress } from './address-guard.js';

/** What a receiver may send back that we read (and log a prefix of); the rest is discarded unread. */
const MAX_RESPONSE_BYTES = 4096;

export class WebhookDeliveryError extends EdgeFleetError {
  readonly kind = 'unavailable';
  constructor(
    message: string,
    /** No retry can help (the address is refused). */
    readonly permanent: boolean,
    readonly statusCode: number | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface SendOptions {
  readonly timeoutMs: number;
  readonly allowPrivate: boolean;
}

/**
 * Resolves like the default lookup but refuses private addresses: checked on the address the socket
 * connects to, so a name that resolves to a public address at creation and to 127.0.0.1 later (DNS
 * rebinding) is refused too.
 */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const allowed = allowPrivate ? addresses : addresses.filter((a) => !isPrivateAddress(a.address));
      if (allowed.length === 0) {
        return callback(new WebhookDeliveryError(`${hostname} resolves only to private or loopback addresses`, true), '', 0);
      }
      if (options.all) return callback(null, allowed);
      const first = allowed[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

/** POSTs one delivery. Resolves with the status code of a 2xx; rejects with a WebhookDeliveryError otherwise. */
export function postWebhook(target: string, body: string, headers: Record<string, string>, options: SendOptions): Promise<number> {
  const url = new URL(target);
  const transport = url.protocol === 'https:' ? https : http;
  // Node connects to an IP literal without a lookup: check it here.
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (!options.allowPrivate && isIP(literal) !== 0 && isPrivateAddress(literal)) {
    return Promise.reject(new WebhookDeliveryError(`${literal} is a private or loopback address`, true));
  }
  return new Promise((resolve, reject) => {
    const req = transport.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body).toString(), 'user-agent': 'EdgeFleet-Webhooks/1', ...headers },
        lookup: guardedLookup(options.allowPrivate),
        timeout: options.timeoutMs,
        agent: false,
      },
      (res) => {
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_RESPONSE_BYTES) res.destroy(); // redirects are not followed and bodies not needed
        });
        const done = () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(status);
          else reject(new WebhookDeliveryError(`receiver answered ${status}`, false, status));
        };
        res.on('end', done);
        res.on('close', done);
        res.on('error', () => done());
      },
    );
    // The whole exchange, not only idle time, is bounded: a receiver trickling bytes cannot hold a worker.
    const deadline = setTimeout(() => req.destroy(new WebhookDeliveryError(`no answer within ${options.timeoutMs} ms`, false)), options.timeoutMs);
    req.on('timeout', () => req.destroy(new WebhookDeliveryError(`no answer within ${options.timeoutMs} ms`, false)));
    req.on('error', (error) => {
      clearTimeout(deadline);
      reject(error instanceof WebhookDeliveryError ? error : new WebhookDeliveryError('could not reach the receiver', false, null, { cause: error }));
    });
    req.on('close', () => clearTimeout(deadline));
    req.end(body);
  });
}
