import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

/** host:pid:random — names a process in queue claims so several nodes can share one database. */
export function makeNodeId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/**
 * A claim holder that ran on this host and no longer runs: its claims can go back to the queue
 * at once. Claims of other hosts wait out their lease.
 */
export function isDeadLocalNode(node: string, self: string): boolean {
  const [host, pidText] = node.split(':');
  const pid = Number(pidText);
  if (host !== self.split(':')[0] || node === self || !Number.isInteger(pid)) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'EPERM';
  }
}
