/**
 * Body repairs mailparser leaves undone (issue 13.5). mailparser refuses to decode UTF-7 bodies
 * (a UTF-7 "+ADw-script+AD4-" slips past filters that look for "<" in the raw bytes) and reads
 * them as UTF-8, which keeps their ASCII exactly; deskgate decodes them before the HTML is
 * sanitised, so the markup they carry is filtered like any other.
 */

/** Charset names iconv and the WHATWG give UTF-7 (RFC 2152), compared without case and punctuation. */
const UTF7 = /^(?:(?:cs)?unicode11)?utf7$|^xunicode20utf7$/;

export { decodeUtf7 } from './header-charset.js';

export interface Utf7Parts {
  plain: boolean;
  html: boolean;
}

/**
 * Which of the text/plain and text/html bodies are UTF-7: every part of that type declares it.
 * Only header blocks are read (the message's own, and each one after a boundary line, as
 * parse/raw-scan.ts keeps them), so a body that quotes a Content-Type line is not taken for one.
 */
export function utf7TextParts(headerBlocks: readonly string[]): Utf7Parts {
  const seen = { plain: { utf7: 0, other: 0 }, html: { utf7: 0, other: 0 } };
  // Nearly no mail says UTF-7: look for the name before reading any Content-Type.
  if (!headerBlocks.some((b) => /utf[^a-z0-9]*7/i.test(b))) return { plain: false, html: false };
  for (const block of headerBlocks) {
    const ct = /^content-type:[ \t]*text\/(plain|html)\b([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)/im.exec(block);
    if (!ct) continue;
    const charset = /charset[ \t]*=[ \t]*"?([^";\s]+)/i.exec(ct[2]!)?.[1] ?? '';
    seen[ct[1]!.toLowerCase() as 'plain' | 'html'][UTF7.test(charset.toLowerCase().replace(/[^a-z0-9]/g, '')) ? 'utf7' : 'other']++;
  }
  return { plain: seen.plain.utf7 > 0 && seen.plain.other === 0, html: seen.html.utf7 > 0 && seen.html.other === 0 };
}

/**
 * C0 controls other than tab, line feed, form feed and carriage return, and DEL: NUL and the
 * terminal escapes (ESC, BEL, backspace) that `tickets show` would otherwise print raw.
 */
const BODY_CONTROLS = /[\u0000-\u0008\u000b\u000e-\u001f\u007f]/g;
/**
 * In a one-line header value (Subject, display names, file names): a line break (a decoded
 * encoded word can carry one) becomes one space, so words stay apart; other controls but tab go.
 */
const HEADER_BREAKS = /[\n\v\f\r]+/g;
const HEADER_CONTROLS = /[\u0000-\u0008\u000e-\u001f\u007f]/g;

export const stripBodyControls = (s: string): string => s.replace(BODY_CONTROLS, '');
export const stripHeaderControls = (s: string): string => s.replace(HEADER_BREAKS, ' ').replace(HEADER_CONTROLS, '');
