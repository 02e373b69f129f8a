import { mkdir, rm, readdir } from 'node:fs/promises';
import { createWriteStream, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';

/**
 * A processing app's own scratch directory, data_dir/scratch/<host>~<pid>~<process start>~<node>.
 * Directories this host's processes left behind (their process is gone, or it is an earlier
 * process with this pid, as in a container where it is always 1) are removed first: a file there
 * is a hand-over nobody finished, and the message is still in the database and is processed
 * again. Another host's directories (a data_dir on shared storage) are left alone. Sweeping is
 * best effort: a directory it cannot remove is skipped. Nothing another node needs is ever here.
 */
export async function freshScratchDir(dataDir: string, nodeId: string): Promise<string> {
  const root = join(dataDir, 'scratch');
  const self = processTag();
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const [host, pid, started] = name.split('~');
    if (host !== self.host || pid === undefined || started === undefined) continue;
    const stale = Number(pid) === process.pid ? started !== self.started : !alive(Number(pid));
    if (stale) await rm(join(root, name), { recursive: true, force: true }).catch(() => {});
  }
  const dir = join(root, `${self.host}~${process.pid}~${self.started}~${safe(nodeId)}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');

/** This process, the same in each of its threads: host name and start time (Linux: /proc; elsewhere: unknown). */
function processTag(): { host: string; started: string } {
  let started = '0';
  try {
    // Field 22 of /proc/self/stat, counted after the command name (which may hold spaces).
    const stat = readFileSync('/proc/self/stat', 'utf8');
    started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '0';
  } catch { /* not Linux */ }
  return { host: safe(hostname()), started };
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

/**
 * Writes `content` to a new file in `dir` (no fsync: a hand-over, not a copy to keep) and returns
 * its path; on failure the file is gone. `onFile` hears the path before a byte is written, so a
 * writer killed mid-way (a parser thread past its timeout) leaves its file to whoever heard it.
 */
export async function writeScratch(dir: string, prefix: string, content: AsyncIterable<Buffer>, onFile?: (path: string) => void): Promise<string> {
  const file = join(dir, `${prefix}.${randomBytes(8).toString('hex')}`);
  onFile?.(file);
  try {
    await pipeline(Readable.from(content), createWriteStream(file, { mode: 0o600 }));
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
  return file;
}
