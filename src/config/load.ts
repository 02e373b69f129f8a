import { readFileSync, existsSync, mkdirSync, writeFileSync, linkSync, unlinkSync } from 'node:fs';
import { dirname, resolve, isAbsolute, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LineCounter, parseDocument, isScalar, isMap, isSeq, type Document, type Node } from 'yaml';
import { configSchema, type Config } from './schema.js';
import { DeskgateError } from '../shared/errors.js';

export const EX_CONFIG = 78;

export interface ConfigProblem {
  path: string;
  line: number | undefined;
  message: string;
}

/** A config that cannot be used; `problems` each name the key path and, where known, the line. */
export class ConfigError extends DeskgateError {
  constructor(readonly file: string, readonly problems: ConfigProblem[]) {
    super('CONFIG_INVALID', problems.map((p) => `${file}${p.line ? `:${p.line}` : ''}: ${p.path || '(top level)'}: ${p.message}`).join('\n'), { context: { file } });
    this.name = 'ConfigError';
  }
}

export function defaultConfigPath(): string {
  return process.env.DESKGATE_CONFIG ?? './config/deskgate.yaml';
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function lineOf(doc: Document, counter: LineCounter, path: ReadonlyArray<PropertyKey>): number | undefined {
  // Walk down as far as the document goes: a missing key is reported at its parent's line.
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true) as Node | undefined;
    if (node && (isScalar(node) || isMap(node) || isSeq(node)) && node.range) {
      return counter.linePos(node.range[0]).line;
    }
  }
  return undefined;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}/g;

/** Replaces ${VAR} (and ${VAR:-default}) in every string value; an unset VAR without default is an error. */
function substituteEnv(value: unknown, path: PropertyKey[], env: NodeJS.ProcessEnv, problems: Omit<ConfigProblem, 'line'>[]): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, name: string, hasDefault: string | undefined, def: string | undefined) => {
      const v = env[name];
      if (v !== undefined) return v;
      if (hasDefault !== undefined) return def ?? '';
      problems.push({ path: formatPath(path), message: `environment variable ${name} is not set` });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, [...path, i], env, problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, [...path, k], env, problems)]));
  }
  return value;
}

export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => ({
      path: '',
      line: e.linePos?.[0]?.line ?? counter.linePos(e.pos[0]).line,
      message: `YAML syntax: ${e.message.split('\n')[0]}`,
    })));
  }
  const raw = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, [{ path: '', line: 1, message: 'the config must be a mapping of keys' }]);
  }
  const envProblems: Omit<ConfigProblem, 'line'>[] = [];
  const substituted = substituteEnv(raw, [], env, envProblems);
  if (envProblems.length > 0) {
    throw new ConfigError(file, envProblems.map((p) => ({ ...p, line: lineOf(doc, counter, p.path.split(/\.|\[|\]/).filter(Boolean).map((s) => (/^\d+$/.test(s) ? Number(s) : s))) })));
  }
  const result = configSchema.safeParse(substituted);
  if (!result.success) {
    throw new ConfigError(file, result.error.issues.map((issue) => ({
      path: formatPath(issue.path),
      line: lineOf(doc, counter, issue.path),
      message: issue.message,
    })));
  }
  const configPath = resolve(file);
  const configDir = dirname(configPath);
  const cfg = result.data;
  const rel = (p: string) => (isAbsolute(p) ? p : resolve(configDir, p));
  cfg.data_dir = rel(cfg.data_dir);
  if (cfg.smtp.tls) cfg.smtp.tls = { key: rel(cfg.smtp.tls.key), cert: rel(cfg.smtp.tls.cert) };
  if (cfg.outbound.dkim) cfg.outbound.dkim = { ...cfg.outbound.dkim, private_key: rel(cfg.outbound.dkim.private_key) };
  if (cfg.secret === '') cfg.secret = undefined;
  return Object.freeze({ ...cfg, configPath, configDir });
}

export function loadConfig(file: string = defaultConfigPath(), env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', line: undefined, message: `cannot read config: ${(err as Error).message}` }]);
  }
  return parseConfigText(text, file, env);
}

/**
 * The reply-token key (R11): the configured secret, or one generated once into data_dir
 * (created with O_EXCL so two processes starting together agree on one key). With
 * `create: false` (read-only commands) nothing is written: null when there is no key yet.
 */
export function resolveSecret(cfg: Config, opts: { create?: boolean } = {}): string | null {
  if (cfg.secret) return cfg.secret;
  const file = join(cfg.data_dir, 'secret');
  if (!existsSync(file)) {
    if (opts.create === false) return null;
    mkdirSync(cfg.data_dir, { recursive: true });
    // Write then link: link() fails if another process won the race, so all agree on one key.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    try {
      linkSync(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(tmp);
    }
  }
  const secret = readFileSync(file, 'utf8').trim();
  if (!secret) throw new DeskgateError('CONFIG_SECRET_EMPTY', `secret file ${file} is empty: delete it or set secret: in the config`, { context: { file } });
  return secret;
}
