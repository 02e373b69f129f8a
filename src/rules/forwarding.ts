/**
 * R15: finding the original sender in a forwarded message. Clients write a marker line and then
 * a From: line (Gmail "---------- Forwarded message ---------", Apple "Begin forwarded
 * message:", Outlook "-----Original Message-----" or a rule line and "From:").
 */
const SUBJECT = /^\s*(fwd?|fw|wg|tr|rv)\s*:/i;
const MARKER = /^[\s>]*(-{2,}\s*(forwarded message|original message|message transféré|weitergeleitete nachricht)\s*-{2,}|begin forwarded message:|_{10,})\s*$/i;
const FROM = /^[\s>*]*(from|von|de|da)\s*:\**\s*(.*)$/i;
const ADDRESS = /<?([^\s<>"@]+@[^\s<>"]+\.[^\s<>"]+?)>?\s*$/;

export function looksForwarded(subject: string, text: string): boolean {
  return SUBJECT.test(subject) || text.split('\n').some((l) => MARKER.test(l));
}

/** The original sender's address and name from the first forwarded block, if one is found. */
export function forwardedSender(text: string): { address: string; name: string } | undefined {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => MARKER.test(l));
  // The From: line comes within a few lines after the marker (or near the top without one).
  const first = start + 1;
  const from = lines.slice(first, first + 12).map((l) => FROM.exec(l)).find(Boolean);
  if (!from) return undefined;
  // Outlook writes "Name [mailto:addr]"; read it as "Name <addr>".
  const value = from[2]!.trim().replace(/\[mailto:([^\]]+)\]/i, '<$1>');
  const addr = ADDRESS.exec(value);
  if (!addr) return undefined;
  const name = value.slice(0, addr.index).replace(/^["'\s]+|["'\s]+$/g, '');
  return { address: addr[1]!.toLowerCase(), name };
}
