import { isTlsBrokerUrl } from '#common';
import { AgentConfigError } from '../config.js';

/** The CA the operator gave this agent for its broker (config `mqttCaFile`). */
export interface PinnedCa {
  readonly file: string;
  readonly pem: string;
}

/** What mqtt.js hands to `tls.connect` for a TLS broker URL. */
export interface BrokerTlsOptions {
  readonly ca?: string;
  readonly rejectUnauthorized: true;
}

/**
 * TLS options for the broker at `url`. With a pinned CA the URL must be TLS: the URL comes from
 * enrolment (an answer an on-path attacker could rewrite when enrolment is plain HTTP) or from the
 * config, and a node whose operator pinned a CA must never send its broker password in the clear.
 */
export function brokerTlsOptions(url: string, pinned: PinnedCa | undefined): BrokerTlsOptions {
  if (pinned && !isTlsBrokerUrl(url)) {
    throw new AgentConfigError(
      `mqttCaFile is set but the broker URL ${url} is not TLS (mqtts:// or wss://): refusing to send this node's credentials in the clear; fix brokerUrl in the config or the control plane's MQTT_PUBLIC_URL`,
    );
  }
  return pinned ? { ca: pinned.pem, rejectUnauthorized: true } : { rejectUnauthorized: true };
}
