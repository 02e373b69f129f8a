/**
 * Where a `deskgate inject` spends its time: one run under `node --cpu-prof` (after a first run
 * that creates the database, as an MTA finds it), summarised as CPU time by package, plus the
 * modules it loads per package (test/helpers/module-log.mjs) and the inclusive time of
 * deskgate's own steps.
 *   npx tsx bench/pipe-profile.ts [runs=3] [daemon]   (figures are the run with the least total time)
 * With `daemon`, a `deskgate serve` runs on the store, so inject only stores (as bench/pipe.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchMail, benchConfig, fmt, ROOT, startChild, stopChild } from './lib/load.js';
import { freePort } from '../test/helpers/net.js';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const RUNS = Number(process.argv[2] ?? 3);
const DAEMON = process.argv[3] === 'daemon';
const b = benchConfig(DAEMON ? await freePort() : 0);
const serve = DAEMON ? await startChild([join(ROOT, 'dist/main.js'), 'serve', '-c', b.config], /serve:ready/) : undefined;
if (serve) await new Promise((r) => setTimeout(r, 1500)); // its first heartbeat
const run = Date.now();
const inject = (i: number, nodeArgs: string[], env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync(process.execPath, [...nodeArgs, join(ROOT, 'dist/main.js'), 'inject', '-c', b.config],
    { input: benchMail(`prof-${run}-${i}`, 4096, undefined, `Carol ${i} <carol-${run}-${i}@customer.test>`), env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`inject exited ${r.status}: ${r.stderr}`);
};

/** A package name, deskgate's own directory, or Node's internals (the module loader, mostly). */
function owner(url: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/dist\/([^/]+)/.exec(url);
  if (own) return `deskgate ${own[1]!.replace(/\.js$/, '')}`;
  return url || '(native: compile, GC, bindings)';
}

/** Node's own code, by what it does for the loader: compiling sources is most of it. */
function nodePart(fn: string, url: string): string {
  if (/^(wrapSafe|compileSourceTextModule|compileFunctionForCJSLoader|compileForInternalLoader)$/.test(fn)) return 'Node: compiling module sources';
  if (url.includes('cjs-module-lexer')) return 'Node: scanning CommonJS exports for import';
  if (fn === 'detectModuleFormat' || fn === 'containsModuleSyntax') return 'Node: detecting a .js file\'s module format';
  if (url.includes('/modules/')) return 'Node: module loader (resolve, read, link)';
  return 'Node: fs, path, URL (mostly for the loader), bootstrap';
}

function summarise(p: Profile) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const steps = new Map<string, number>();
  const step = /^(loadConfigOrExit|composeApp|composeIntake|openStore|daemonRunning|acceptMessage|processOne|close|parseMessage|compileTemplate)$/;
  p.samples.forEach((id, i) => {
    const t = p.timeDeltas[i]! / 1000;
    const n = byId.get(id)!;
    const fn = n.callFrame.functionName;
    const k = fn === '(garbage collector)' ? '(GC)' : fn === '(program)' || fn === '(idle)' ? `(${fn.slice(1, -1)})`
      : n.callFrame.url.startsWith('node:') ? nodePart(fn, n.callFrame.url) : owner(n.callFrame.url);
    self.set(k, (self.get(k) ?? 0) + t);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (step.test(f.functionName) && f.url.includes('/dist/') && !seen.has(f.functionName)) {
        seen.add(f.functionName);
        steps.set(f.functionName, (steps.get(f.functionName) ?? 0) + t);
      }
    }
  });
  return { total: (p.endTime - p.startTime) / 1000, self, steps };
}

const dir = mkdtempSync(join(tmpdir(), 'dg-prof-'));
inject(0, []);
const profiles = [];
for (let i = 1; i <= RUNS; i++) {
  const out = join(dir, String(i));
  inject(i, ['--cpu-prof', '--cpu-prof-dir', out, '--cpu-prof-interval', '250']);
  const f = readdirSync(out).find((x) => x.endsWith('.cpuprofile'))!;
  profiles.push(summarise(JSON.parse(readFileSync(join(out, f), 'utf8')) as Profile));
}
const best = profiles.sort((x, y) => x.total - y.total)[0]!;
const log = join(dir, 'modules.txt');
inject(RUNS + 1, ['--import', pathToFileURL(join(ROOT, 'test/helpers/module-log.mjs')).href], { DESKGATE_MODULE_LOG: log });
const modules = new Map<string, number>();
for (const u of new Set(readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('file:')))) modules.set(owner(u), (modules.get(owner(u)) ?? 0) + 1);

console.log(`inject under --cpu-prof: ${fmt(best.total, 1)} ms profiled (best of ${RUNS}), ${[...modules.values()].reduce((a, x) => a + x, 0)} modules loaded`);
console.log('CPU time by owner of the running code (ms, modules loaded):');
for (const [k, t] of [...best.self].sort((x, y) => y[1] - x[1]).slice(0, 25)) console.log(`  ${fmt(t, 1).padStart(7)}  ${k}${modules.has(k) ? ` (${modules.get(k)})` : ''}`);
console.log('deskgate steps, inclusive (ms):');
for (const [k, t] of [...best.steps].sort((x, y) => y[1] - x[1])) console.log(`  ${fmt(t, 1).padStart(7)}  ${k}`);
if (serve) await stopChild(serve.child);
rmSync(dir, { recursive: true, force: true });
rmSync(b.dir, { recursive: true, force: true });
