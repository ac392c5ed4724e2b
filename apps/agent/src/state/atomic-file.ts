import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsyncPath } from '#common';

/**
 * Replaces `path` with `data` so that after a crash at any instant the file holds either the old or the
 * new content, never a mix: write a temp file in the same directory, fsync it, rename it over the
 * target, fsync the directory (so the rename itself is durable). balena-supervisor's writeFileAtomic.
 * The file is private to the agent's user (0600) unless `mode` says otherwise.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const file = await open(temp, 'w', 0o600);
  try {
    // Set explicitly: the process umask would strip bits from the mode given to open (a group-readable file).
    if (mode !== 0o600) await file.chmod(mode);
    await file.writeFile(data);
    await file.sync();
  } catch (error) {
    await file.close();
    await rm(temp, { force: true });
    throw error;
  }
  await file.close();
  await rename(temp, path);
  await fsyncDirectory(dirname(path));
}

export const fsyncDirectory = fsyncPath;

/** Reads a JSON file written by writeFileAtomic; undefined when it does not exist. */
export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
