import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { runGolden, goldenFixtures, expectedPath, goldenText, GOLDEN_DIR, type GoldenResult } from './harness.js';

/**
 * Golden fixtures: mails written for deskgate, run in order through `deskgate inject` into one
 * fresh data dir; each ticket must equal its reviewed .expected.json. When a change is meant,
 * `npm run golden` rewrites the files: read the diff against the rules before committing.
 * Besides the byte comparison, each fixture's rule is asserted directly, so a wrong golden file
 * written by the script cannot pass on its own.
 */

type Ticket = {
  id: number; subject: string; status: string; group: string | null; recipient: string; via: string;
  requester: { email: string; name: string | null }; assignee: { email: string } | null;
  ccs: Array<{ email: string }>; tags: string[];
  comments: Array<{ public: boolean; visibility_rule: string; body: string; html_body: string | null; attachments: Array<{ filename: string; sha256: string; size: number }> }>;
  audit: Array<{ rule: string | null; change: string; value: string | null }>;
};

const last = (t: Ticket) => t.comments.at(-1)!;

const RULES: Record<string, { rules: string; check: (t: Ticket) => void }> = {
  '01-new-ticket-with-cc.eml': {
    rules: 'R12, R24: a new ticket from an end user; the requester\'s Cc becomes a CC',
    check: (t) => {
      assert.deepEqual([t.id, t.status, t.group, t.recipient, t.via, t.requester.email], [1, 'new', 'Support', 'support@acme.test', 'pipe', 'carol@customer.test']);
      assert.deepEqual(t.ccs.map((c) => c.email), ['dan@customer.test']);
      assert.equal(last(t).public, true);
    },
  },
  '02-cc-reply-all-by-in-reply-to.eml': {
    rules: 'R10, R16, R64: a CC\'s Reply-all threads by In-Reply-To, is public, quote cut',
    check: (t) => {
      assert.equal(t.id, 1);
      assert.equal(t.comments.length, 2);
      assert.deepEqual([last(t).public, last(t).visibility_rule], [true, 'R16']);
      assert.equal(last(t).body, 'It is smoking now. We opened the windows.');
      assert.equal(t.status, 'new', 'R13 reopens only pending/solved');
    },
  },
  '03-html-only-with-attachment.eml': {
    rules: 'R61, R63, R9: HTML-only mail as text, sanitised HTML, attachment by sha256',
    check: (t) => {
      assert.deepEqual([t.id, t.group, t.recipient], [2, 'Billing', 'billing@acme.test']);
      assert.match(last(t).body, /invoice #4411 was charged twice on my card/);
      assert.doesNotMatch(last(t).html_body ?? '', /script|onclick|steal/);
      // sha256 of the 1x1 PNG in the fixture, computed outside deskgate.
      assert.deepEqual(last(t).attachments, [{ filename: 'statement.png', content_type: 'image/png', size: 70, sha256: '497790947d4666760ce38f3c00e852c71fdb66cae849bae8e9ede352719e1581' }]);
    },
  },
  '04-agent-reply-all-with-mail-api.eml': {
    rules: 'R17, R38, R39: an agent\'s Reply-all is public; Mail API lines applied and removed, an unknown one kept',
    check: (t) => {
      assert.deepEqual([t.id, t.status, t.assignee?.email, t.tags], [1, 'pending', 'bob@acme.test', ['printer', 'hardware']]);
      assert.deepEqual([last(t).public, last(t).visibility_rule], [true, 'R17']);
      assert.doesNotMatch(last(t).body, /#status|#assignee|#tags/);
      assert.match(last(t).body, /#priority urgent/);
      assert.ok(t.audit.some((a) => a.rule === 'R39' && a.change === 'mail_api_error'));
      assert.deepEqual(t.ccs.map((c) => c.email), ['dan@customer.test'], 'agents never remove CCs (R27)');
    },
  },
  '05-quoted-printable-latin1.eml': {
    rules: 'R62: quoted-printable ISO-8859-1 body and encoded-word headers stored as UTF-8',
    check: (t) => {
      assert.equal(t.subject, 'Problème de connexion à l\'espace client');
      assert.equal(t.requester.name, 'François Lévesque');
      assert.match(last(t).body, /« accès refusé »/);
    },
  },
  '06-requester-reply-reopens-drops-cc.eml': {
    rules: 'R10, R13, R27: the requester\'s reply to the agent\'s mail reopens a pending ticket and drops the CC it leaves out',
    check: (t) => {
      assert.deepEqual([t.id, t.status, t.ccs], [1, 'open', []]);
      assert.deepEqual([last(t).public, last(t).visibility_rule], [true, 'R16']);
      assert.doesNotMatch(last(t).body, /wrote:|technician is on the way/);
    },
  },
};

describe('golden fixtures: test/fixtures/golden through deskgate inject', () => {
  let results: GoldenResult[];
  before(() => { results = runGolden(); });

  it('every fixture has a reviewed expected file and a rule here, and nothing is left over', () => {
    const fixtures = goldenFixtures();
    assert.ok(fixtures.length >= 4);
    assert.deepEqual(Object.keys(RULES).sort(), fixtures);
    for (const f of fixtures) assert.ok(existsSync(expectedPath(f)), `${f}: no expected file (npm run golden)`);
    const expected = readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.expected.json'));
    assert.equal(expected.length, fixtures.length, 'an .expected.json without its .eml');
  });

  for (const [name, { rules, check }] of Object.entries(RULES)) {
    it(`${rules} (${name})`, () => {
      const r = results.find((x) => x.name === name);
      assert.ok(r, `${name} did not run`);
      check(r.ticket as Ticket);
      const want = readFileSync(expectedPath(name), 'utf8');
      // assert.equal on the text shows a line diff; the message says how to refresh deliberately.
      assert.equal(goldenText(r.ticket), want, `${name}: differs from its .expected.json (if the change is meant: npm run golden, then review the diff)`);
    });
  }
});
