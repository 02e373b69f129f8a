export { runTriggers, applyFieldAction, type TriggerPlan, type PlannedChange, type PlannedEmail, type StaffLookup, type FieldAction } from './run-triggers.js';
export { conditionHolds, conditionsHold, type TicketView, type UpdateEvent } from './conditions.js';
export { resolveRecipients, type Envelope, type RecipientContext } from './recipients.js';
export { compileTemplate, renderTemplate, headerSafe, type Compiled } from './templates.js';
export { resolveRuleSet, checkRuleSet, nullifies } from './rule-book.js';
export { DEFAULT_TRIGGERS, DEFAULT_AUTOMATIONS } from './defaults.js';
export type { Trigger, Automation, Condition, Action, EmailAction } from './definitions.js';
