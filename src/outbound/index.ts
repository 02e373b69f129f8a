export { createOutboundSender, type OutboundSender, type SmarthostConfig, type DkimConfig } from './sender.js';
export { composeNotification, replyAddress, type ComposeInput, type ComposedMessage } from './compose.js';
export { afterFailure, type RetryDecision, type RetrySettings } from './retry-policy.js';
