import type { SenderKind } from './ccs.js';

export interface VisibilityInput {
  senderKind: SenderKind;
  isFollower: boolean;
  isAssignee: boolean;
  isRequester: boolean;
  ticketHasPublicComment: boolean;
  /** The requester or an end-user CC is on the message's To/Cc (Reply-all). */
  endUserOnRecipients: boolean;
  requesterOnRecipients: boolean;
  /** #note / #public from a valid Mail API command (R20). */
  mailApi: boolean | undefined;
  /** The message carries the text of an earlier private note (R21). */
  carriesPrivateNote: boolean;
  thirdPartyReplies: 'private' | 'public';
}

/** R16-R21 and R33: whether a reply's comment is public, and the rule that decided (R22). */
export function decideVisibility(v: VisibilityInput): { public: boolean; rule: string } {
  switch (v.senderKind) {
    case 'light_agent':
      return { public: false, rule: 'R19' };
    case 'agent': {
      // R21 last and strongest: whatever else says public, a note's text never goes out.
      let decided: { public: boolean; rule: string };
      if (v.mailApi !== undefined) decided = { public: v.mailApi, rule: 'R20' };
      else if (v.isFollower && !v.isAssignee && !v.isRequester) decided = { public: false, rule: 'R18' };
      else if (!v.ticketHasPublicComment) decided = { public: false, rule: 'R17' };
      else decided = { public: v.endUserOnRecipients, rule: 'R17' };
      if (decided.public && v.carriesPrivateNote) return { public: false, rule: 'R21' };
      return decided;
    }
    case 'requester':
      return { public: true, rule: 'R16' };
    case 'cc':
      return { public: v.requesterOnRecipients, rule: 'R16' };
    case 'third_party':
      return { public: v.thirdPartyReplies === 'public', rule: 'R33' };
  }
}

const normalize = (s: string) => s.split('\n').map((l) => l.replace(/^[\s>]+/, '')).join(' ').replace(/\s+/g, ' ').trim().toLowerCase();

/** R21 leak guard: does `text` (quotes included) contain any earlier private note's text? */
export function carriesPrivateNote(text: string, privateNotes: readonly string[]): boolean {
  const hay = normalize(text);
  return privateNotes.some((note) => {
    const n = normalize(note);
    return n.length >= 8 && hay.includes(n);
  });
}
