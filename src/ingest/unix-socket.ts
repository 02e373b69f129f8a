import { connect } from 'node:net';
import { chmod, chown, lstat, mkdir, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DeskgateError } from '../shared/errors.js';

/** A Unix socket listen entry (config lmtp.listen). */
export interface SocketListen { path: string; mode: string; owner?: string | undefined; group?: string | undefined }

/** Whether the socket at `path` is stale: only a refused connection says nobody listens (EACCES or EAGAIN do not). */
function stale(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/**
 * Before listening on `path`: its directory exists (systemd's RuntimeDirectory usually made it),
 * and a socket left by a process that died is removed. A live socket (another deskgate) or a
 * file that is not a socket is never removed: that is a config mistake, said in words.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const st = await lstat(path).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return undefined; throw err; });
  if (!st) return;
  if (!st.isSocket()) throw new DeskgateError('INGEST_LISTEN', `${path} exists and is not a socket: refusing to replace it`, { context: { path } });
  if (!(await stale(path))) throw new DeskgateError('INGEST_LISTEN', `another process listens on ${path} (or it cannot be checked)`, { context: { path } });
  await unlink(path);
}

/** The socket's mode, owner and group from config, so that only the MTA (and the admin) can connect. */
export async function applySocketAccess(l: SocketListen): Promise<void> {
  // Owner and group first, then the mode: the other order would let deskgate's own group in for a moment.
  if (l.owner !== undefined || l.group !== undefined) {
    const uid = l.owner === undefined ? -1 : await idOf('/etc/passwd', l.owner, 'user');
    const gid = l.group === undefined ? -1 : await idOf('/etc/group', l.group, 'group');
    try {
      await chown(l.path, uid, gid);
    } catch (err) {
      throw new DeskgateError('INGEST_LISTEN', `cannot give ${l.path} to ${l.owner ?? ''}${l.group ? `:${l.group}` : ''}: ${(err as Error).message} (chown needs root; or leave owner unset and make the MTA's user a member of deskgate's group)`, { cause: err, context: { path: l.path } });
    }
  }
  await chmod(l.path, parseInt(l.mode, 8));
}

/** A numeric id, or a name looked up in /etc/passwd or /etc/group (local accounts, as the MTA's are). */
async function idOf(file: string, name: string, what: 'user' | 'group'): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name);
  const line = (await readFile(file, 'utf8')).split('\n').find((l) => l.startsWith(`${name}:`));
  if (line === undefined) throw new DeskgateError('INGEST_LISTEN', `no ${what} "${name}" in ${file} (give a numeric id for accounts from elsewhere)`, { context: { [what]: name } });
  return Number(line.split(':')[2]);
}
