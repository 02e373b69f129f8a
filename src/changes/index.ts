export { planChanges, statusVerdict, isBlocklisted, refusalMessage, type ChangeRequest, type Change, type Refusal, type ChangePlan, type PlanTicket, type PlanPolicy, type Actor, type StatusVerdict } from './plan.js';
export { applyChanges, createTicket, addComment, audit, type Stamp, type AuditNote, type NewTicketRecord, type CommentRecord } from './apply.js';
