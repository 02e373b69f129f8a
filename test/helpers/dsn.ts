/**
 * An RFC 3464 delivery status notification as an MTA writes it (multipart/report, a text part,
 * message/delivery-status, the returned headers), for bounce tests that need one of their own.
 */
export function deliveryReport(o: {
  to: string; recipient: string; status: string; action?: 'failed' | 'delayed'; diagnostic?: string;
  originalMessageId?: string | null; from?: string; messageId?: string;
}): string {
  const boundary = `b${Math.random().toString(36).slice(2)}`;
  const returned = o.originalMessageId === null ? [] : [
    `--${boundary}`, 'Content-Type: text/rfc822-headers', '',
    'From: Acme Support <support@acme.test>', `To: ${o.recipient}`, `Message-ID: ${o.originalMessageId ?? '<none@acme.test>'}`, 'Subject: [Ticket] Received', '',
  ];
  return [
    `From: ${o.from ?? 'MAILER-DAEMON@mx.customer.test (Mail Delivery System)'}`, `To: ${o.to}`,
    `Subject: ${o.action === 'delayed' ? 'Delayed Mail (still being retried)' : 'Undelivered Mail Returned to Sender'}`,
    `Message-ID: ${o.messageId ?? `<dsn.${Math.random().toString(36).slice(2)}@mx.customer.test>`}`, 'Date: Wed, 02 Dec 2026 10:00:00 +0000',
    'Auto-Submitted: auto-replied', 'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`, '',
    `--${boundary}`, 'Content-Type: text/plain; charset=us-ascii', '',
    'This is the mail system at host mx.customer.test.', '', `<${o.recipient}>: ${o.diagnostic ?? 'refused'}`, '',
    `--${boundary}`, 'Content-Type: message/delivery-status', '',
    'Reporting-MTA: dns; mx.customer.test', '',
    `Final-Recipient: rfc822; ${o.recipient}`, `Action: ${o.action ?? 'failed'}`, `Status: ${o.status}`,
    `Diagnostic-Code: smtp; ${o.diagnostic ?? `${o.status.startsWith('5') ? 550 : 450} ${o.status} refused`}`, '',
    ...returned,
    `--${boundary}--`, '',
  ].join('\r\n');
}
