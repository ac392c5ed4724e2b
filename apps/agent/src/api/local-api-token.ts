import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { writeFileAtomic } from '../state/atomic-file.js';
import { LocalApiSetupError } from './local-api-socket.js';

/**
 * The local API's bearer token. A fresh one is written at every start, to a file only the agent's
 * user and the on-device app's group can read: the token proves a caller can read that file, which a
 * web page in the device's browser (or another local user) cannot.
 */
export class LocalApiToken {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = sha256(token);
  }

  /**
   * Whether an `Authorization` header carries this token. Both sides are hashed first, so the
   * comparison is constant-time whatever the length of what the caller sent.
   */
  matches(authorization: string | undefined): boolean {
    const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    return match?.[1] !== undefined && timingSafeEqual(sha256(match[1]), this.digest);
  }
}

/** Writes a new random token to `path` (atomically, with `mode`) and returns it. */
export async function issueLocalApiToken(path: string, mode: number): Promise<LocalApiToken> {
  const token = randomBytes(32).toString('base64url');
  try {
    await writeFileAtomic(path, `${token}\n`, mode);
  } catch (error) {
    throw new LocalApiSetupError(`cannot write the local API token file ${path} (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`, { cause: error });
  }
  return new LocalApiToken(token);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
