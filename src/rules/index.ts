export {
  evaluate, pickRecipient, planPolicy, RulesError,
  type Decision, type NewTicketDecision, type CommentOnTicketDecision, type SuspendDecision, type CommentDecision, type FieldChanges,
  type RulesInput, type RulesMessage, type RulesSettings, type Addressee, type Author,
} from './evaluate.js';
export { createDirectory, supportAddressOf, roleOf, isFullAgent, isStaff, type Directory, type AgentInfo, type SupportAddressInfo } from './people.js';
export { isBlocklisted, statusVerdict } from './status.js';
export { decideCcChanges, type CcChange, type CcPolicy, type SenderKind } from './ccs.js';
export { decideVisibility, carriesPrivateNote } from './visibility.js';
export { splitCommands, interpretCommands, type MailApiCommand, type MailApiEffects } from './mail-api.js';
export { looksForwarded, forwardedSender } from './forwarding.js';
export { automatedReason, isRobotAddress } from './robots.js';
export { preRulesSuspension, type SuspendReason, type TrustCheckInput } from './trust-checks.js';
export { isBounceMessage, planBounce, afterBounce, type BounceFacts, type BouncePlan, type BounceEffect, type BouncedNotification, type BounceKind, type BounceTrust } from './bounces.js';
