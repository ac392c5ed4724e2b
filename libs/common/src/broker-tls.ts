import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** A CA file for the broker's TLS that cannot be used; `message` names the file and what is wrong. */
export class BrokerCaError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BrokerCaError';
  }
}

/** Whether an MQTT URL runs over TLS (the schemes mqtt.js wraps in TLS). */
export function isTlsBrokerUrl(url: string): boolean {
  const scheme = new URL(url).protocol;
  return scheme === 'mqtts:' || scheme === 'wss:';
}

/**
 * Reads the CA certificates a client pins for the broker (PEM, one or more: a CA being replaced and its
 * successor). Read once at start, so a missing or garbled file is a configuration error then, not a
 * connection that fails later for a reason that looks like the broker's.
 */
export function readBrokerCaFile(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new BrokerCaError(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'read error'})`, { cause: error });
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new BrokerCaError(`${file} holds no PEM certificate`);
  for (const block of blocks) {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(block);
    } catch (error) {
      throw new BrokerCaError(`${file} holds a certificate that does not parse`, { cause: error });
    }
    // A server certificate here would pin one key, not a CA: it breaks at the broker's next renewal.
    if (!certificate.ca) throw new BrokerCaError(`${file} holds a certificate that is not a CA (${certificate.subject.replace(/\n/g, ', ')})`);
  }
  return pem;
}

/** OpenSSL's verdicts (Node's `error.code`) for a certificate that does not chain to the pinned CAs. */
const UNTRUSTED_CHAIN = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/**
 * Why a TLS handshake with the broker failed verification, in words an operator can act on, or
 * undefined when `error` is not a certificate verdict (a refused socket, bad credentials, ...).
 */
export function tlsTrustFailure(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (UNTRUSTED_CHAIN.has(code)) return 'it does not chain to the pinned CA';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'it does not name the host in the broker URL';
  if (code === 'CERT_HAS_EXPIRED') return 'it has expired';
  if (code === 'CERT_NOT_YET_VALID') return 'it is not valid yet';
  return undefined;
}
