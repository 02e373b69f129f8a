import type { Db } from './db.js';

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

export function createTicketViewsRepo(db: Db) {
  const base = `SELECT t.*, r.email AS r_email, r.name AS r_name, a.email AS a_email, a.name AS a_name
    FROM tickets t JOIN users r ON r.id = t.requester_id LEFT JOIN users a ON a.id = t.assignee_id`;
  const s = {
    list: db.prepare(`${base} WHERE (@status IS NULL OR t.status = @status) ORDER BY t.id DESC LIMIT @limit`),
    one: db.prepare(`${base} WHERE t.id = ?`),
    ccs: db.prepare('SELECT u.email, u.name FROM ticket_ccs x JOIN users u ON u.id = x.user_id WHERE x.ticket_id = ? ORDER BY x.added_at, u.email'),
    followers: db.prepare('SELECT u.email, u.name FROM ticket_followers x JOIN users u ON u.id = x.user_id WHERE x.ticket_id = ? ORDER BY x.added_at, u.email'),
    comments: db.prepare(`SELECT c.*, u.email AS u_email, u.name AS u_name FROM comments c JOIN users u ON u.id = c.author_id WHERE c.ticket_id = ? ORDER BY c.id`),
    attachments: db.prepare('SELECT comment_id, filename, content_type, size, sha256 FROM attachments WHERE comment_id IN (SELECT id FROM comments WHERE ticket_id = ?) ORDER BY id'),
    audit: db.prepare('SELECT at, actor, rule, change, value FROM audit WHERE ticket_id = ? ORDER BY id'),
    byStatus: db.prepare('SELECT status, count(*) AS n FROM tickets GROUP BY status'),
  };

  function summary(r: Record<string, unknown>): TicketJson {
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
      ccs: s.ccs.all(id) as PersonJson[],
      followers: s.followers.all(id) as PersonJson[],
      tags: JSON.parse(r.tags as string) as string[],
      follow_up_of: r.follow_up_of as number | null,
      warnings: JSON.parse(r.warnings as string) as string[],
      created_at: r.created_at as string,
      updated_at: r.updated_at as string,
    };
  }

  return {
    countByStatus(): Record<string, number> {
      return Object.fromEntries((s.byStatus.all() as Array<{ status: string; n: number }>).map((r) => [r.status, r.n]));
    },
    list(opts: { status?: string | undefined; limit?: number | undefined } = {}): TicketJson[] {
      return (s.list.all({ status: opts.status ?? null, limit: opts.limit ?? -1 }) as Record<string, unknown>[]).map(summary);
    },
    show(id: number): TicketJson | undefined {
      const r = s.one.get(id) as Record<string, unknown> | undefined;
      if (!r) return undefined;
      const attachments = new Map<number, AttachmentJson[]>();
      for (const a of s.attachments.all(id) as Array<AttachmentJson & { comment_id: number }>) {
        const { comment_id, ...rest } = a;
        attachments.set(comment_id, [...(attachments.get(comment_id) ?? []), rest]);
      }
      const comments = (s.comments.all(id) as Record<string, unknown>[]).map((c): CommentJson => ({
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
      return { ...summary(r), comments, audit: s.audit.all(id) as AuditJson[] };
    },
  };
}

export type TicketViewsRepo = ReturnType<typeof createTicketViewsRepo>;
