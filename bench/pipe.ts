/**
 * Pipe intake: `deskgate inject` per message (one process each, as an MTA runs it) against a
 * `cat > /dev/null` pipe baseline, so process start cost is visible.
 *   npx tsx bench/pipe.ts [messages=100]
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { benchMail, benchConfig, fmt, ROOT } from './lib/load.js';

const N = Number(process.argv[2] ?? 50);
const b = benchConfig(0);
const run = Date.now();
const time = (fn: (i: number) => void) => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(i);
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
const cat = time((i) => spawnSync('sh', ['-c', 'cat > /dev/null'], { input: benchMail(`cat-${run}-${i}`, 4096) }));
const nodeStart = time(() => spawnSync(process.execPath, ['-e', '0']));
const inject = time((i) => {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/main.js'), 'inject', '-c', b.config], { input: benchMail(`pipe-${run}-${i}`, 4096) });
  if (r.status !== 0) throw new Error(`inject exited ${r.status}: ${r.stderr}`);
});
console.log(`pipe: ${N} messages of 4 KB, one process each`);
console.log(`  cat > /dev/null     ${fmt(N / cat)} msg/s  (${fmt((cat / N) * 1000, 1)} ms each)`);
console.log(`  node -e 0           ${fmt(N / nodeStart)} runs/s (${fmt((nodeStart / N) * 1000, 1)} ms each: Node's own start)`);
console.log(`  deskgate inject     ${fmt(N / inject)} msg/s  (${fmt((inject / N) * 1000, 1)} ms each; stored, parsed, threaded, ticket made)  ratio to cat ${fmt(cat / inject, 3)}, to node start ${fmt(nodeStart / inject, 2)}`);
rmSync(b.dir, { recursive: true, force: true });
