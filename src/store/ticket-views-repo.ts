import type { Sql } from './sql.js';

/** The ticket JSON of interfaces.md, read straight from the tables for the CLI and scripts. */
export interface PersonJson { email: string; name: string | null }
export interface AttachmentJson { filename: string | null; content_type: string; size: number; sha256: string }
export interface CommentJson {
  id: number;
  author: PersonJson & { role: string };
  public: boolean;
  visibility_rule: string;
  body: string;
  html_body: string | null;
  flags: string[];
  message_id: string | null;
  to: string[];
  cc: string[];
  auth: Record<string, string> | null;
  via: string;
  attachments: AttachmentJson[];
  created_at: string;
}
export interface AuditJson { at: string; actor: string; rule: string | null; change: string; value: string | null }
export interface TicketJson {
  id: number;
  subject: string;
  status: string;
  requester: PersonJson;
  assignee: PersonJson | null;
  group: string | null;
  recipient: string;
  via: string;
  ccs: PersonJson[];
  followers: PersonJson[];
  tags: string[];
  follow_up_of: number | null;
  warnings: string[];
  created_at: string;
  updated_at: string;
  comments?: CommentJson[];
  audit?: AuditJson[];
}

export function createTicketViewsRepo(sql: Sql) {
  const base = `SELECT t.*, r.email AS r_email, r.name AS r_name, a.email AS a_email, a.name AS a_name
    FROM tickets t JOIN users r ON r.id = t.requester_id LEFT JOIN users a ON a.id = t.assignee_id`;
  const s = {
    list: `${base} WHERE (CAST(@status AS TEXT) IS NULL OR t.status = @status) ORDER BY t.id DESC LIMIT @limit`,
    one: `${base} WHERE t.id = ?`,
    ccs: 'SELECT u.email, u.name FROM ticket_ccs x JOIN users u ON u.id = x.user_id WHERE x.ticket_id = ? ORDER BY x.added_at, u.email',
    followers: 'SELECT u.email, u.name FROM ticket_followers x JOIN users u ON u.id = x.user_id WHERE x.ticket_id = ? ORDER BY x.added_at, u.email',
    comments: `SELECT c.*, u.email AS u_email, u.name AS u_name FROM comments c JOIN users u ON u.id = c.author_id WHERE c.ticket_id = ? ORDER BY c.id`,
    attachments: 'SELECT comment_id, filename, content_type, size, sha256 FROM attachments WHERE comment_id IN (SELECT id FROM comments WHERE ticket_id = ?) ORDER BY id',
    audit: 'SELECT at, actor, rule, change, value FROM audit WHERE ticket_id = ? ORDER BY id',
    byStatus: 'SELECT status, count(*) AS n FROM tickets GROUP BY status',
  };

  async function summary(r: Record<string, unknown>): Promise<TicketJson> {
    const id = r.id as number;
    return {
      id,
      subject: r.subject as string,
      status: r.status as string,
      requester: { email: r.r_email as string, name: r.r_name as string | null },
      assignee: r.a_email ? { email: r.a_email as string, name: r.a_name as string | null } : null,
      group: r.group_name as string | null,
      recipient: r.recipient as string,
      via: r.via as string,
      ccs: await sql.all<PersonJson>(s.ccs, [id]),
      followers: await sql.all<PersonJson>(s.followers, [id]),
      tags: JSON.parse(r.tags as string) as string[],
      follow_up_of: r.follow_up_of as number | null,
      warnings: JSON.parse(r.warnings as string) as string[],
      created_at: r.created_at as string,
      updated_at: r.updated_at as string,
    };
  }

  return {
    async countAll(): Promise<number> {
      return (await sql.value<number>('SELECT count(*) FROM tickets')) ?? 0;
    },
    async countByStatus(): Promise<Record<string, number>> {
      return Object.fromEntries((await sql.all<{ status: string; n: number }>(s.byStatus)).map((r) => [r.status, r.n]));
    },
    async list(opts: { status?: string | undefined; limit?: number | undefined } = {}): Promise<TicketJson[]> {
      const rows = await sql.all(s.list, { status: opts.status ?? null, limit: opts.limit ?? Number.MAX_SAFE_INTEGER });
      const out: TicketJson[] = [];
      for (const r of rows) out.push(await summary(r));
      return out;
    },
    async show(id: number): Promise<TicketJson | undefined> {
      const r = await sql.get(s.one, [id]);
      if (!r) return undefined;
      const attachments = new Map<number, AttachmentJson[]>();
      for (const a of await sql.all<AttachmentJson & { comment_id: number }>(s.attachments, [id])) {
        const { comment_id, ...rest } = a;
        attachments.set(comment_id, [...(attachments.get(comment_id) ?? []), rest]);
      }
      const comments = (await sql.all(s.comments, [id])).map((c): CommentJson => ({
        id: c.id as number,
        author: { email: c.u_email as string, name: c.u_name as string | null, role: c.author_role as string },
        public: c.public === 1,
        visibility_rule: c.visibility_rule as string,
        body: c.body as string,
        html_body: c.html_body as string | null,
        flags: JSON.parse(c.flags as string) as string[],
        message_id: c.message_id as string | null,
        to: JSON.parse(c.to_addrs as string) as string[],
        cc: JSON.parse(c.cc_addrs as string) as string[],
        auth: c.auth ? (JSON.parse(c.auth as string) as Record<string, string>) : null,
        via: c.via as string,
        attachments: attachments.get(c.id as number) ?? [],
        created_at: c.created_at as string,
      }));
      return { ...(await summary(r)), comments, audit: await sql.all<AuditJson>(s.audit, [id]) };
    },
  };
}

export type TicketViewsRepo = ReturnType<typeof createTicketViewsRepo>;
