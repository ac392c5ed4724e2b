import { describe, expect, it } from '@jest/globals';
import { AgentConfigError } from '../config.js';
import { brokerTlsOptions } from './broker-tls.js';

const pinned = { file: '/etc/edgefleet/broker-ca.crt', pem: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n' };

describe('brokerTlsOptions', () => {
  it.each(['mqtts://broker.example:8883', 'wss://broker.example/mqtt'])('pins the CA for %s and always verifies', (url) => {
    expect(brokerTlsOptions(url, pinned)).toEqual({ ca: pinned.pem, rejectUnauthorized: true });
    expect(brokerTlsOptions(url, undefined)).toEqual({ rejectUnauthorized: true });
  });

  it.each(['mqtt://broker.example:1883', 'ws://broker.example/mqtt'])('refuses %s when a CA is pinned (a downgrade), naming the fix', (url) => {
    expect(() => brokerTlsOptions(url, pinned)).toThrow(AgentConfigError);
    expect(() => brokerTlsOptions(url, pinned)).toThrow(`mqttCaFile is set but the broker URL ${url} is not TLS`);
  });

  it('leaves a plain URL alone when no CA is pinned (development brokers)', () => {
    expect(brokerTlsOptions('mqtt://127.0.0.1:1883', undefined)).toEqual({ rejectUnauthorized: true });
  });
});
