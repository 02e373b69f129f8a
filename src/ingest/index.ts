export { createAcceptMessage, isAccepted, type AcceptMessage, type AcceptResult, type Accepted, type Envelope } from './accept-message.js';
export { startSmtpListener, type SmtpListener, type SmtpListenerOptions } from './smtp-listener.js';
export { recipientsFromHeaders } from './recipients.js';
export { ImapPoller, accountKey, IMPORTED_KEYWORD, type ImapAccount, type ImapPollerDeps } from './imap-poller.js';
