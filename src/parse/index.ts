export { parseMessage, type ParsedMessage, type ParsedAttachment, type Mailbox, type TrustHeaders } from './parse-message.js';
export { createMessageParser, byteBatches, type MessageParser, type ParserOptions } from './parse-pool.js';
export { cutReply } from './reply-cut.js';
export { messageIdFromHeaders, extractMessageIds, unfoldHeaders } from './header-fields.js';
export { sourceStream, sourceSize, type MessageSource } from './message-source.js';
