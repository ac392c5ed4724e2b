import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

/** An Ed25519 key pair; `keyId` is the sha256 of the public key's SPKI DER (as in TUF). */
export interface SigningKey {
  readonly keyId: string;
  readonly publicKey: string; // base64 SPKI DER
  readonly privateKey: KeyObject;
}

export function keyIdOf(publicKeyBase64: string): string {
  return createHash('sha256').update(Buffer.from(publicKeyBase64, 'base64')).digest('hex');
}

export function generateSigningKey(): SigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return { keyId: keyIdOf(spki), publicKey: spki, privateKey };
}

/** PKCS#8 PEM for key files (written 0600 by the key CLI). */
export function exportPrivateKey(key: SigningKey): string {
  return key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function importPrivateKey(pem: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64');
  return { keyId: keyIdOf(spki), publicKey: spki, privateKey };
}

export function publicKeyObject(publicKeyBase64: string): KeyObject {
  return createPublicKey({ key: Buffer.from(publicKeyBase64, 'base64'), format: 'der', type: 'spki' });
}

/** A public key (SPKI PEM, as `keys generate` prints it) as the base64 SPKI DER a root lists. */
export function importPublicKey(pem: string): { keyId: string; publicKey: string } {
  const spki = createPublicKey(pem).export({ type: 'spki', format: 'der' }).toString('base64');
  return { keyId: keyIdOf(spki), publicKey: spki };
}

export function exportPublicKey(key: SigningKey): string {
  return createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' }).toString();
}
