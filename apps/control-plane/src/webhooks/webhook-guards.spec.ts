import { describe, expect, it } from '@jest/globals';
import { isPrivateAddress, webhookUrlProblem } from './address-guard.js';
import { signatureHeader, verifySignature } from './webhook-signature.js';

describe('webhook address guard', () => {
  it.each(['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', 'not-an-ip'])(
    'refuses %s',
    (ip) => expect(isPrivateAddress(ip)).toBe(true),
  );
  it.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])('allows %s', (ip) => expect(isPrivateAddress(ip)).toBe(false));

  it('refuses private literals, localhost, credentials and other schemes unless allowed', () => {
    expect(webhookUrlProblem('http://127.0.0.1:8080/hook', false)).toMatch(/loopback/);
    expect(webhookUrlProblem('http://[::1]/hook', false)).toMatch(/loopback/);
    expect(webhookUrlProblem('http://localhost/hook', false)).toMatch(/localhost/);
    expect(webhookUrlProblem('https://user:pw@example.com/hook', false)).toMatch(/credentials/);
    expect(webhookUrlProblem('file:///etc/passwd', false)).toMatch(/http/);
    expect(webhookUrlProblem('https://hooks.example.com/x', false)).toBeNull();
    expect(webhookUrlProblem('http://127.0.0.1:8080/hook', true)).toBeNull();
  });
});

describe('webhook signature', () => {
  const body = '{"id":"1"}';
  it('verifies its own signature and refuses a changed body, another secret or an old timestamp', () => {
    const header = signatureHeader('s3cret', 1_000, body);
    expect(verifySignature('s3cret', header, body, 1_010)).toBe(true);
    expect(verifySignature('s3cret', header, '{"id":"2"}', 1_010)).toBe(false);
    expect(verifySignature('other', header, body, 1_010)).toBe(false);
    expect(verifySignature('s3cret', header, body, 2_000)).toBe(false);
  });
});
