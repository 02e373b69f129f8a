export { evaluate, pickRecipient, RulesError, type Decision, type NewTicketDecision, type CommentOnTicketDecision, type CommentDecision, type RulesInput, type RulesMessage, type RulesSettings, type Addressee, type Author } from './evaluate.js';
export { createDirectory, supportAddressOf, roleOf, isFullAgent, isStaff, type Directory, type AgentInfo, type SupportAddressInfo } from './people.js';
export { checkStatusChange, isBlocklisted, type StatusCheck } from './status.js';
