import { open } from 'node:fs/promises';

/** Flushes a file's data, or a directory's entries (so a rename in it survives a power cut), to disk. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
