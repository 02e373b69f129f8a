import { TICKET_STATUSES, isValidTag, type TicketStatus } from '../shared/domain.js';

/** One `#command value` line from the top of an agent's message (R38). */
export interface MailApiCommand {
  line: string;
  command: string;
  value: string;
  /** Set when the command or its value is bad (R39) or the sender may not use it (R40). */
  error?: string;
  ignored?: boolean;
}

/** What valid commands ask for. */
export interface MailApiEffects {
  status?: TicketStatus;
  assignee?: string;
  group?: string;
  requester?: string;
  tags?: string[];
  /** #note / #public: true for public, false for private (R20). */
  visibility?: boolean;
}

const COMMAND_LINE = /^#([a-z_]+)(?:[ \t]+(.*?))?[ \t]*$/i;
const KNOWN = new Set(['status', 'assignee', 'group', 'requester', 'tags', 'note', 'public']);

/**
 * Splits command lines off the top of the text (blank lines between them allowed); the rest is
 * the comment. Lines that look like commands but are not known stay in the text (R39).
 */
export function splitCommands(text: string): { commands: MailApiCommand[]; rest: string } {
  const lines = text.split('\n');
  const commands: MailApiCommand[] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const m = COMMAND_LINE.exec(line);
    if (!m) break;
    commands.push({ line, command: m[1]!.toLowerCase(), value: (m[2] ?? '').trim() });
  }
  return { commands, rest: lines.slice(i).join('\n').replace(/^\s+/, '') };
}

export interface CommandContext {
  sender: string;
  groups: readonly string[];
  isAgent: (address: string) => boolean;
  isSupportAddress: (address: string) => boolean;
}

const ADDRESS = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

/** Validates commands into effects (R38, R39). Bad ones get an error and change nothing. */
export function interpretCommands(commands: readonly MailApiCommand[], ctx: CommandContext): { commands: MailApiCommand[]; effects: MailApiEffects } {
  const effects: MailApiEffects = {};
  const out = commands.map((c): MailApiCommand => {
    const bad = (error: string): MailApiCommand => ({ ...c, error });
    if (!KNOWN.has(c.command)) return bad(`unknown command #${c.command}`);
    const v = c.value.toLowerCase();
    switch (c.command) {
      case 'status':
        if (!['open', 'pending', 'solved'].includes(v) || !TICKET_STATUSES.includes(v as TicketStatus)) return bad(`#status takes open, pending or solved, not "${c.value}"`);
        effects.status = v as TicketStatus;
        return c;
      case 'assignee': {
        const who = v === 'me' ? ctx.sender : v;
        if (!ADDRESS.test(who) || !ctx.isAgent(who)) return bad(`#assignee ${c.value}: not an agent`);
        effects.assignee = who;
        return c;
      }
      case 'group': {
        const g = ctx.groups.find((x) => x.toLowerCase() === v);
        if (!g) return bad(`#group ${c.value}: no such group`);
        effects.group = g;
        return c;
      }
      case 'requester':
        if (!ADDRESS.test(v) || ctx.isSupportAddress(v)) return bad(`#requester ${c.value}: not a usable address`);
        effects.requester = v;
        return c;
      case 'tags': {
        const tags = v.split(/[\s,]+/).filter(Boolean);
        if (tags.length === 0 || tags.some((t) => !isValidTag(t))) return bad(`#tags ${c.value}: tags are single words`);
        effects.tags = [...(effects.tags ?? []), ...tags];
        return c;
      }
      case 'note':
        if (c.value !== '') return bad('#note takes no value');
        effects.visibility = false;
        return c;
      case 'public':
        if (!['', 'true', 'false'].includes(v)) return bad(`#public takes true or false, not "${c.value}"`);
        effects.visibility = v !== 'false';
        return c;
      default:
        return bad(`unknown command #${c.command}`);
    }
  });
  return { commands: out, effects };
}
