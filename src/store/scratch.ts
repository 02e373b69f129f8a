import { mkdir, rm, readdir } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';

/**
 * A processing app's own scratch directory, data_dir/scratch/<pid>-<node>. Directories of
 * processes that are gone are removed first: a file left there by a process that died is a
 * hand-over nobody finished (the message is still in the database and is processed again).
 * Nothing another node needs is ever here.
 */
export async function freshScratchDir(dataDir: string, nodeId: string): Promise<string> {
  const root = join(dataDir, 'scratch');
  const entries = await readdir(root).catch(() => [] as string[]);
  for (const name of entries) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1]);
    if (pid > 0 && pid !== process.pid && !alive(pid)) await rm(join(root, name), { recursive: true, force: true });
  }
  const dir = join(root, `${process.pid}-${nodeId.replace(/[^A-Za-z0-9._-]/g, '_')}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export async function removeScratchDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes `content` to a new file in `dir` (no fsync: a hand-over, not a copy to keep); returns its path. */
export async function writeScratch(dir: string, prefix: string, content: AsyncIterable<Buffer>): Promise<string> {
  const file = join(dir, `${prefix}.${randomBytes(8).toString('hex')}`);
  try {
    await pipeline(Readable.from(content), createWriteStream(file, { mode: 0o600 }));
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
  return file;
}
