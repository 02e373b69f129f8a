import { convert as htmlToText } from 'html-to-text';
import sanitizeHtml from 'sanitize-html';
import { decodeHTML } from 'entities';

/**
 * R61 for HTML that would break the converters (issue 13.3): html-to-text recurses once per
 * nesting level and overflows the stack near 2,200 levels (main thread) or 9,000 (a parse
 * thread); sanitize-html is quadratic in the depth (200k unclosed tags: 32 s). Deeper HTML skips
 * both and is reduced to its text by a linear extraction; a converter that throws anyway gets
 * the same fallback. Real mail stays far below the limit (Chrome flattens past 512 levels).
 */
export const MAX_HTML_DEPTH = 1000;
/**
 * Characters of HTML given to html-to-text (about 1 s of work); past this only the start becomes
 * the comment text, flagged `truncated`. Cutting here means html-to-text never truncates itself,
 * which it announces with console.warn, past the JSON log.
 */
export const MAX_HTML_TO_TEXT_CHARS = 4 * 1024 * 1024;

/** Comment flags the HTML step can set (R61). */
export type HtmlFlag = 'html_simplified' | 'truncated';

export interface HtmlBody {
  /** The HTML as text, or null when the caller did not ask for it. */
  text: string | null;
  /** The sanitised HTML, or null when it was too deep to sanitise. */
  html: string | null;
  flags: HtmlFlag[];
  /** Why a flag was set, for the log. */
  notes: string[];
}

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: sanitizeHtml.defaults.allowedTags.concat(['img', 'span', 'font', 'center', 'u', 's']),
  allowedAttributes: {
    a: ['href', 'name', 'title'],
    img: ['src', 'alt', 'title', 'width', 'height'],
    td: ['colspan', 'rowspan', 'align', 'valign'],
    th: ['colspan', 'rowspan', 'align', 'valign'],
    '*': ['dir', 'lang'],
  },
  allowedSchemes: ['http', 'https', 'mailto', 'tel'],
  allowedSchemesByTag: { img: ['cid', 'data', 'https'] },
  allowProtocolRelative: false,
};

/** Elements without content: a start tag opens no level. */
const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'param', 'source', 'track', 'wbr', 'keygen']);
/** Elements the parser closes when a sibling opens (li after li): a run of them does not nest. */
const IMPLIED_END = new Set(['p', 'li', 'dt', 'dd', 'option', 'optgroup', 'tr', 'td', 'th', 'thead', 'tbody', 'tfoot', 'rt', 'rp']);
/** Elements whose content is not markup (htmlparser2 reads it raw up to the end tag). */
const RAW_TEXT = new Set(['script', 'style', 'textarea', 'title']);
/** Raw-text elements whose content is not text a reader sees. */
const DROPPED = new Set(['script', 'style', 'title']);
/** Elements that start a new line in the extracted text. */
const BLOCK = new Set(['address', 'article', 'aside', 'blockquote', 'br', 'caption', 'center', 'dd', 'div', 'dl', 'dt', 'fieldset',
  'figcaption', 'figure', 'footer', 'form', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'hr', 'li', 'main', 'nav', 'ol', 'p', 'pre',
  'section', 'table', 'tbody', 'tfoot', 'thead', 'tr', 'ul']);

type Token = { kind: 'text'; value: string } | { kind: 'tag'; name: string; closing: boolean };

const TAG_NAME = /[A-Za-z][^\s/>\0]*/y;
const endTagCache = new Map<string, RegExp>();

/**
 * One linear pass over HTML in the shape htmlparser2 reads it: text, start and end tags (names
 * lower-cased, attributes skipped with their quotes), comments and <!...>/<?...> skipped, the
 * content of script/style/textarea/title read raw up to its end tag. Every search moves forward,
 * so hostile input (unclosed comments, quotes, scripts) stays linear.
 */
function* tokens(html: string): Generator<Token> {
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) { yield { kind: 'text', value: html.slice(i) }; return; }
    if (lt > i) yield { kind: 'text', value: html.slice(i, lt) };
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      if (end < 0) return;
      i = end + 3;
      continue;
    }
    const next = html[lt + 1];
    if (next === '!' || next === '?') {
      const end = html.indexOf('>', lt + 2);
      if (end < 0) return;
      i = end + 1;
      continue;
    }
    const closing = next === '/';
    TAG_NAME.lastIndex = lt + (closing ? 2 : 1);
    const m = TAG_NAME.exec(html);
    if (!m) { yield { kind: 'text', value: '<' }; i = lt + 1; continue; }
    const end = tagEnd(html, TAG_NAME.lastIndex);
    if (end < 0) return;
    const name = m[0].toLowerCase();
    yield { kind: 'tag', name, closing };
    i = end + 1;
    if (!closing && RAW_TEXT.has(name)) {
      let re = endTagCache.get(name);
      if (!re) endTagCache.set(name, (re = new RegExp(`</${name}[\\s/>]`, 'gi')));
      re.lastIndex = i;
      const close = re.exec(html);
      const stop = close ? close.index : html.length;
      if (!DROPPED.has(name) && stop > i) yield { kind: 'text', value: html.slice(i, stop) };
      if (!close) return;
      yield { kind: 'tag', name, closing: true };
      const closeEnd = tagEnd(html, close.index + 2 + name.length);
      if (closeEnd < 0) return;
      i = closeEnd + 1;
    }
  }
}

/**
 * The index of the '>' that ends a tag whose attributes start at `from`, or -1. A quote opens a
 * value only after '=' (as in htmlparser2), and its '>' does not end the tag.
 */
function tagEnd(html: string, from: number): number {
  let afterEq = false;
  for (let i = from; i < html.length; i++) {
    const c = html.charCodeAt(i);
    if (c === 0x3e) return i; // >
    if (afterEq && (c === 0x22 || c === 0x27)) { // " '
      i = html.indexOf(html[i]!, i + 1);
      if (i < 0) return -1;
      afterEq = false;
    } else if (c === 0x3d) afterEq = true; // =
    else if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c) afterEq = false;
  }
  return -1;
}

/** Whether the HTML nests elements deeper than `maxDepth`; stops as soon as it does. */
export function htmlNestingExceeds(html: string, maxDepth: number = MAX_HTML_DEPTH): boolean {
  const stack: string[] = [];
  const open = new Map<string, number>();
  for (const t of tokens(html)) {
    if (t.kind !== 'tag' || VOID.has(t.name) || IMPLIED_END.has(t.name)) continue;
    if (!t.closing) {
      stack.push(t.name);
      open.set(t.name, (open.get(t.name) ?? 0) + 1);
      if (stack.length > maxDepth) return true;
    } else if (open.get(t.name)) {
      // An end tag closes down to its element, as htmlparser2 does; without one it closes nothing.
      for (let popped = ''; popped !== t.name;) {
        popped = stack.pop()!;
        open.set(popped, open.get(popped)! - 1);
      }
    }
  }
  return false;
}

/**
 * The text of any HTML in one linear pass, for what the converters cannot take: script, style
 * and title text dropped, block elements on their own lines, cells apart, entities decoded,
 * white space collapsed as a browser does (no <pre> layout, no links or images).
 */
export function htmlToPlainText(html: string): string {
  const out: string[] = [];
  for (const t of tokens(html)) {
    if (t.kind === 'text') out.push(t.value.replace(/\s+/g, ' '));
    else if (BLOCK.has(t.name)) out.push('\n');
    else if (t.name === 'td' || t.name === 'th') out.push(' ');
  }
  return decodeHTML(out.join(''))
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ ?\n[\n ]*/g, '\n')
    .trim();
}

/** The start of long HTML for html-to-text, cut before a tag so no tag is split. */
function cutForConverter(html: string, max: number): string {
  const lt = html.lastIndexOf('<', max);
  return html.slice(0, lt > max / 2 ? lt : max);
}

function convert(html: string, max: number, out: HtmlBody): string {
  const input = html.length > max ? cutForConverter(html, max) : html;
  try {
    const text = htmlToText(input, { wordwrap: false, selectors: [{ selector: 'img', format: 'skip' }], limits: { maxInputLength: max } });
    if (input.length < html.length) {
      out.flags.push('truncated');
      out.notes.push(`HTML of ${html.length} characters: text from the first ${input.length}`);
    }
    return text;
  } catch (err) {
    out.flags.push('html_simplified');
    out.notes.push(`html-to-text failed (${err instanceof Error ? err.message : String(err)}): plain extraction`);
    return htmlToPlainText(html);
  }
}

/**
 * R9, R61: the sanitised HTML body and (when `wantText`) its text. HTML nested deeper than
 * MAX_HTML_DEPTH gets no HTML body (its text is the whole content) and the plain extraction,
 * flagged `html_simplified`; HTML longer than MAX_HTML_TO_TEXT_CHARS gives the text of its start,
 * flagged `truncated`, and keeps its whole sanitised HTML. Never throws.
 */
export function htmlBody(html: string, wantText: boolean, limits = { depth: MAX_HTML_DEPTH, textChars: MAX_HTML_TO_TEXT_CHARS }): HtmlBody {
  const out: HtmlBody = { text: null, html: null, flags: [], notes: [] };
  if (htmlNestingExceeds(html, limits.depth)) {
    out.flags.push('html_simplified');
    out.notes.push(`HTML nested deeper than ${limits.depth} levels: plain extraction, no HTML body`);
    if (wantText) out.text = htmlToPlainText(html);
    return out;
  }
  try {
    out.html = sanitizeHtml(html, SANITIZE);
  } catch (err) {
    out.flags.push('html_simplified');
    out.notes.push(`sanitize-html failed (${err instanceof Error ? err.message : String(err)}): no HTML body`);
  }
  if (wantText) out.text = convert(html, limits.textChars, out);
  out.flags = [...new Set(out.flags)];
  return out;
}
