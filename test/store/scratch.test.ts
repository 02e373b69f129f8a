import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import { freshScratchDir } from '../../src/store/scratch.js';

/** Issue 14: a node's scratch directory, and the sweep of what dead processes left there. */
describe('scratch directories', () => {
  it('removes this host\'s leftovers (a dead pid; this pid from an earlier start, as in a container) and keeps live siblings and other hosts\'', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dg-scratch-root-'));
    try {
      const mine = await freshScratchDir(dataDir, 'host:1:abc/0');
      const [host, pid, started] = basename(mine).split('~') as [string, string, string];
      assert.equal(Number(pid), process.pid);
      const deadPid = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim();
      const root = join(dataDir, 'scratch');
      const make = (name: string) => { mkdirSync(join(root, name)); writeFileSync(join(root, name, 'raw-1.x'), 'left over'); return name; };
      const dead = make(`${host}~${deadPid}~1~old-node`);
      const earlier = make(`${host}~${pid}~${Number(started) - 5}~old-node`);
      const sibling = make(`${host}~${pid}~${started}~host_1_abc_1`);
      const otherHost = make(`other-host~${deadPid}~1~their-node`);
      writeFileSync(join(mine, 'raw-2.x'), 'mine');
      const again = await freshScratchDir(dataDir, 'host:1:abc/0');
      assert.equal(again, mine);
      assert.deepEqual(readdirSync(mine), [], 'its own directory starts empty');
      const left = readdirSync(root).sort();
      assert.deepEqual(left, [basename(mine), otherHost, sibling].sort());
      assert.ok(!left.includes(dead) && !left.includes(earlier));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
