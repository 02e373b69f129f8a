import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeEnv, SUPPORT } from '../helpers/env.js';
import { composeApp } from '../../src/compose.js';
import { isAccepted } from '../../src/ingest/index.js';
import { silentLogger } from '../../src/shared/logger.js';
import { REAL_MAIL_DIR as CORPUS, skipWithoutCorpus } from '../helpers/corpus.js';

const N = Number(process.env.DESKGATE_FUZZ_N ?? 1500);
const SEED = Number(process.env.DESKGATE_FUZZ_SEED ?? Date.now() % 2 ** 31);

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function nested(depth: number): string {
  let body = 'innermost text';
  for (let i = depth; i > 0; i--) body = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${body}\r\n--b${i}--`;
  return body;
}

type Mutation = (m: string, r: () => number) => string;
const pick = <T>(xs: readonly T[], r: () => number): T => xs[Math.floor(r() * xs.length)]!;
const MUTATIONS: Array<[string, Mutation]> = [
  ['truncate', (m, r) => m.slice(0, Math.floor(r() * m.length))],
  ['broken boundary', (m) => m.replace(/boundary="?([^";\r\n]+)"?/gi, 'boundary="nope"')],
  ['unterminated multipart', (m) => m.replace(/--[^\r\n]+--\s*$/g, '')],
  ['bad base64', (m) => m.replace(/^([A-Za-z0-9+/]{20,})$/m, '$1!!!***~~~')],
  ['bad quoted-printable', (m) => m.replace(/Content-Transfer-Encoding:[^\r\n]*/i, 'Content-Transfer-Encoding: quoted-printable') + '\r\n=ZZ=\r\n='],
  ['invalid charset', (m) => m.replace(/charset="?[^";\s]+"?/gi, 'charset="x-no-such-charset-zz"')],
  ['NUL bytes', (m, r) => { const i = Math.floor(r() * m.length); return m.slice(0, i) + '\u0000\u0000' + m.slice(i); }],
  ['huge header', (m) => `X-Huge: ${'h'.repeat(200_000)}\r\n${m}`],
  ['many headers', (m) => `${'X-Many: v\r\n'.repeat(5000)}${m}`],
  ['deep nesting', (m) => m.replace(/\r?\n\r?\n[\s\S]*$/, `\r\nMIME-Version: 1.0\r\n${nested(120)}`)],
  ['no body separator', (m) => m.replace(/\r?\n\r?\n/, '\r\n')],
  ['byte flips', (m, r) => { const a = [...m]; for (let k = 0; k < 40; k++) { const i = Math.floor(r() * a.length); a[i] = String.fromCharCode(Math.floor(r() * 256)); } return a.join(''); }],
  ['garbage encoded words', (m) => m.replace(/^Subject:.*$/im, 'Subject: =?utf-8?B?####?= =?x-bad?Q?=FF=FE?= =?utf-8?Q?=E2=82?=')],
  ['broken From', (m) => m.replace(/^From:.*$/im, 'From: <<<@@@>>> "unterminated')],
  ['empty', () => ''],
];

describe('fuzzing intake with mutated MIME (R8)', () => {
  const skip = skipWithoutCorpus();
  const env = skip ? undefined : makeEnv((c) => { c.processing = { parse_workers: 1, batch_size: 64, parse_timeout: '10s' }; });
  after(() => env?.cleanup());

  it(`${N} mutated messages: no crash, no hang, each a ticket, a failed record with a reason, or suspended`, { skip }, async () => {
    console.log(`# fuzz seed=${SEED} n=${N} (replay: DESKGATE_FUZZ_SEED=${SEED} DESKGATE_FUZZ_N=${N})`);
    const r = prng(SEED);
    const seeds = [
      ...readdirSync(join(CORPUS, 'mail')).map((f) => readFileSync(join(CORPUS, 'mail', f), 'latin1')),
      ...readdirSync(join(CORPUS, 'reply-cut')).filter((f) => f.endsWith('.eml')).map((f) => readFileSync(join(CORPUS, 'reply-cut', f), 'latin1')),
    ];
    const app = await composeApp(env!.config, { logger: silentLogger() });
    const used = new Map<string, number>();
    let tooLarge = 0;
    try {
      for (let i = 0; i < N; i++) {
        let m = pick(seeds, r);
        const rounds = 1 + Math.floor(r() * 3);
        for (let k = 0; k < rounds; k++) {
          const [name, mutate] = pick(MUTATIONS, r);
          used.set(name, (used.get(name) ?? 0) + 1);
          m = mutate(m, r);
        }
        // A unique id per mutant, so R7 does not fold mutants of one seed into one message.
        const raw = Buffer.from(`Message-ID: <fuzz-${SEED}-${i}@fuzz.test>\r\n${m}`, 'latin1');
        const res = await app.accept(raw, { via: 'pipe', from: null, to: [SUPPORT] });
        if (!isAccepted(res)) tooLarge++;
        if (i % 200 === 199) await app.processor.drain();
      }
      await app.processor.drain();
      const counts = Object.fromEntries(((await app.sql.all('SELECT status, count(*) AS n FROM intake GROUP BY status')) as Array<{ status: string; n: number }>).map((x) => [x.status, x.n]));
      console.log(`# fuzz results: ${JSON.stringify(counts)} too_large=${tooLarge} mutations=${JSON.stringify(Object.fromEntries(used))}`);
      const codes = (await app.sql.all("SELECT error_code AS code, count(*) AS n, min(error) AS example FROM intake WHERE status = 'failed' GROUP BY error_code")) as Array<{ code: string; n: number; example: string }>;
      console.log(`# fuzz failures: ${JSON.stringify(codes.map((c) => [c.code, c.n, c.example.slice(0, 80)]))}`);
      assert.equal((counts.received ?? 0) + (counts.processing ?? 0), 0, 'nothing left unprocessed');
      // Failures must be the input's fault (no sender, unparseable), not a bug in deskgate.
      assert.deepEqual(codes.filter((c) => c.code === 'PIPELINE_ERROR'), [], 'an unexpected exception while processing');
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      assert.ok(total + tooLarge >= N * 0.95, `only ${total} of ${N} stored`);
      const noReason = (await app.sql.value("SELECT count(*) FROM intake WHERE status = 'failed' AND (error IS NULL OR error = '' OR error_code IS NULL)"));
      assert.equal(noReason, 0, 'every failed record has a reason');
      assert.ok((counts.done ?? 0) > N * 0.3, 'most mutants still become tickets');
    } finally {
      await app.close();
    }
  });
});
