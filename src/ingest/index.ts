export { createAcceptMessage, isAccepted, type AcceptMessage, type AcceptResult, type Accepted, type Envelope } from './accept-message.js';
export { startSmtpListener, type SmtpListener, type SmtpListenerOptions } from './smtp-listener.js';
