/** Builds RFC 5322 test messages with CRLF line ends. */
export interface MailSpec {
  from?: string;
  to?: string | string[];
  cc?: string | string[];
  subject?: string;
  messageId?: string | null;
  inReplyTo?: string;
  references?: string;
  body?: string;
  headers?: Record<string, string>;
  /** Full replacement for the part after the headers (MIME bodies). */
  rawBody?: string;
  contentType?: string;
}

let seq = 0;
export function uniqueId(tag = 'm'): string {
  seq++;
  return `<${tag}-${process.pid}-${Date.now()}-${seq}@customer.test>`;
}

export function mail(spec: MailSpec = {}): Buffer {
  const list = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(', ') : v);
  const lines = [
    `From: ${spec.from ?? 'Carol <carol@customer.test>'}`,
    `To: ${list(spec.to) ?? 'support@acme.test'}`,
    ...(spec.cc ? [`Cc: ${list(spec.cc)}`] : []),
    `Subject: ${spec.subject ?? 'Printer on fire'}`,
    `Date: Mon, 23 Nov 2026 10:00:00 +0000`,
    ...(spec.messageId === null ? [] : [`Message-ID: ${spec.messageId ?? uniqueId()}`]),
    ...(spec.inReplyTo ? [`In-Reply-To: ${spec.inReplyTo}`] : []),
    ...(spec.references ? [`References: ${spec.references}`] : []),
    ...Object.entries(spec.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    'MIME-Version: 1.0',
    ...(spec.rawBody ? [] : [`Content-Type: ${spec.contentType ?? 'text/plain; charset=utf-8'}`, 'Content-Transfer-Encoding: 8bit']),
  ];
  const body = spec.rawBody ?? (spec.body ?? 'It is on fire again.\n');
  return Buffer.from(`${lines.join('\r\n')}\r\n${spec.rawBody ? '' : '\r\n'}${body.replace(/\r?\n/g, '\r\n')}`);
}
