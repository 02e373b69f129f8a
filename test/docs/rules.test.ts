import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { parseConfigText } from '../../src/config/index.js';
import { configSchema } from '../../src/config/schema.js';
import { SPEC_DIR, skipWithout } from '../helpers/corpus.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RULES_MD = join(ROOT, 'docs/rules.md');
const rulesText = readFileSync(RULES_MD, 'utf8');
const LAST_RULE = 73;

/** `### R17 Title` headings, in file order. */
const headings = [...rulesText.matchAll(/^### R(\d+) (.+)$/gm)].map((m) => ({ n: Number(m[1]), title: m[2]! }));

function* textFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* textFiles(p);
    else if (/\.(ts|md|ya?ml)$/.test(e.name)) yield p;
  }
}

/** The body of one rule: from its heading to the next heading. */
function ruleBody(n: number): string {
  const start = rulesText.search(new RegExp(`^### R${n} `, 'm'));
  const rest = rulesText.slice(start).split('\n').slice(1).join('\n');
  return rest.slice(0, rest.search(/^##/m) === -1 ? undefined : rest.search(/^##/m));
}

/** Walks the zod schema down a key path such as `limits.per_sender_per_hour` or `agents[].role`. */
function schemaHas(path: string): boolean {
  let s: any = configSchema;
  for (const part of path.split('.')) {
    const [key, isArray] = [part.replace(/\[\]$/, ''), part.endsWith('[]')];
    s = unwrap(s)?.shape?.[key];
    if (!s) return false;
    if (isArray) s = unwrap(s)?.element;
  }
  return s !== undefined;
}
function unwrap(s: any): any {
  while (s?.def && ['default', 'optional', 'nullable', 'prefault', 'pipe'].includes(s.def.type)) s = s.def.innerType ?? s.def.in;
  return s;
}

const at = (obj: unknown, path: string): unknown => path.split('.').reduce<any>((o, k) => o?.[k], obj);

/** The `key` (… default V …) pairs of each rule's Settings paragraph; V undefined when not given. */
function documentedSettings(): Array<{ rule: number; key: string; def: string | undefined; none: boolean }> {
  const out: Array<{ rule: number; key: string; def: string | undefined; none: boolean }> = [];
  for (const { n } of headings) {
    const settings = /^Settings: ([\s\S]*?)(?=^Code:|$(?![\s\S]))/m.exec(ruleBody(n))?.[1];
    if (!settings) continue;
    for (const m of settings.matchAll(/`([a-z_]+(?:\[\])?(?:\.[a-z_]+(?:\[\])?)*)` \(([^)]*)\)/g)) {
      const d = /default:? (none\b|`([^`]*)`|(-?\d[\d.]*))/.exec(m[2]!);
      out.push({ rule: n, key: m[1]!, def: d?.[2] ?? d?.[3], none: d?.[1] === 'none' });
    }
  }
  return out;
}

describe('docs/rules.md', () => {
  it(`describes R1..R${LAST_RULE} in order, once each, each with a title and a description`, () => {
    assert.deepEqual(headings.map((h) => h.n), Array.from({ length: LAST_RULE }, (_, i) => i + 1));
    for (const h of headings) {
      assert.ok(h.title.trim().length > 3, `R${h.n} has a title`);
      assert.ok(ruleBody(h.n).trim().length > 40, `R${h.n} has a description`);
    }
  });

  it('has a heading for every R-number cited in src/, test/, docs/ and the README', () => {
    const described = new Set(headings.map((h) => h.n));
    const missing = new Map<number, string>();
    const files = [...textFiles(join(ROOT, 'src')), ...textFiles(join(ROOT, 'test')), ...textFiles(join(ROOT, 'docs')), join(ROOT, 'README.md')];
    for (const f of files) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\bR(\d+)\b/g)) {
        const n = Number(m[1]);
        if (!described.has(n) && !missing.has(n)) missing.set(n, relative(ROOT, f));
      }
    }
    assert.deepEqual([...missing].map(([n, f]) => `R${n} (cited in ${f})`), []);
  });

  it('names only config keys that exist, with the defaults that src/config/schema.ts gives them', () => {
    const settings = documentedSettings();
    assert.ok(settings.length >= 30, `only ${settings.length} settings found: is the Settings: format still parsed?`);
    const base = 'support_addresses: [{ address: support@acme.test }]\n';
    const defaults = parseConfigText(base, join(ROOT, 'config/x.yaml'), {});
    const wrong: string[] = [];
    for (const { rule, key, def, none } of settings) {
      if (!schemaHas(key)) { wrong.push(`R${rule}: ${key} is not a config key`); continue; }
      if (key.includes('[]') || (def === undefined && !none)) continue;
      if (none) {
        if (at(defaults, key) !== undefined) wrong.push(`R${rule}: ${key} has a default, ${JSON.stringify(at(defaults, key))}`);
        continue;
      }
      // Read the documented value through the schema too, so `25MB` and `1h` compare as parsed.
      const value = /^(true|false|\[\]|-?\d[\d.]*)$/.test(def!) ? parseYaml(def!) : def;
      const raw = { support_addresses: [{ address: 'support@acme.test' }] } as Record<string, any>;
      const parts = key.split('.');
      parts.reduce((o, k, i) => (o[k] = i === parts.length - 1 ? value : {}), raw);
      const documented = at(parseConfigText(JSON.stringify(raw), join(ROOT, 'config/x.yaml'), {}), key);
      if (JSON.stringify(documented) !== JSON.stringify(at(defaults, key))) wrong.push(`R${rule}: ${key} documented default ${def}, schema default ${JSON.stringify(at(defaults, key))}`);
    }
    assert.deepEqual(wrong, []);
  });

  it('is linked from the README', () => {
    assert.match(readFileSync(join(ROOT, 'README.md'), 'utf8'), /\]\(docs\/rules\.md\)/);
  });

  it('numbers the same rules as the spec in ../shared', { skip: skipWithout('spec', SPEC_DIR) }, () => {
    const spec = readFileSync(join(SPEC_DIR, 'email-rules.md'), 'utf8');
    const specNumbers = [...new Set([...spec.matchAll(/^- \*\*R(\d+)\b/gm)].map((m) => Number(m[1])))];
    assert.deepEqual(headings.map((h) => h.n), specNumbers);
  });
});
