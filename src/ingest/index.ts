export { createAcceptMessage, isAccepted, type AcceptMessage, type AcceptResult, type Accepted, type Envelope } from './accept-message.js';
export { startSmtpListener, type SmtpListener, type SmtpListenerOptions } from './smtp-listener.js';
export { recipientsFromHeaders } from './recipients.js';
// The poller (and imapflow) is imported from './imap-poller.js' by the daemon only.
export { accountKey } from './imap-account.js';
