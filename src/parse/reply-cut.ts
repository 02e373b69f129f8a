import EmailReplyParser from 'email-reply-parser';

/**
 * Separators the reply-parsing library does not know: Outlook's "-----Original Message-----"
 * and the rule lines Outlook and Exchange put above a "From:" block.
 */
const OUTLOOK_RULE = /^[ \t]*(?:-{3,}[ \t]*Original Message[ \t]*-{3,}|_{10,}|-{10,})[ \t]*$/im;
const FROM_LINE = /^[ \t]*\*?(?:From|Von|De|Da|Van|Från|Fra|От)\*?[ \t]*:/i;

function cutAtOutlookRule(text: string): string {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!OUTLOOK_RULE.test(lines[i]!)) continue;
    if (/Original Message/i.test(lines[i]!)) return lines.slice(0, i).join('\n');
    const next = lines.slice(i + 1, i + 4).find((l) => l.trim() !== '');
    if (next !== undefined && FROM_LINE.test(next)) return lines.slice(0, i).join('\n');
  }
  return text;
}

/**
 * The new text of a reply: the leading fragments up to the first quoted or hidden one (quote
 * header, quoted lines, signature). Text after the quote is left out on purpose: a helpdesk
 * comment is what the person wrote on top, as the hosted helpdesks cut it.
 */
function leadingText(text: string): string {
  try {
    const fragments = new EmailReplyParser().read(text).getFragments();
    const kept: string[] = [];
    for (const f of fragments) {
      if (f.isQuoted() || f.isHidden()) break;
      kept.push(f.getContent());
    }
    const lead = kept.join('\n');
    return lead.trim() !== '' ? lead : new EmailReplyParser().read(text).getVisibleText();
  } catch {
    return text; // the library could not split it; keep what was written rather than nothing
  }
}

/**
 * R64: the text of a reply without quoted history and signature. Above deskgate's reply line
 * (R57) when present, else what the reply parser keeps; never empty when the mail had text.
 */
export function cutReply(text: string, replyLine: string): string {
  const normalized = text.replace(/\r\n?/g, '\n');
  let above = normalized;
  const at = replyLine ? normalized.indexOf(replyLine) : -1;
  if (at >= 0) above = normalized.slice(0, at);
  above = cutAtOutlookRule(above);
  const cut = leadingText(above).replace(/\s+$/, '');
  if (cut.trim() !== '') return cut;
  return at >= 0 ? above.trim() : normalized.trim();
}
