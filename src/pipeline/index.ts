export type { PipelineContext } from './context.js';
export { createIntakeProcessor, type IntakeProcessor, type Outcome } from './process-intake.js';
export { decide, type Decided } from './decide.js';
export { applyDecision } from './apply-decision.js';
export { updateTicket, type TicketUpdate, type UpdatePolicy } from './update-ticket.js';
export { createNotifier, type Notifier, type NotifyResult, type NotifierDeps } from './notify.js';
export { runAutomations, type AutomationRun } from './run-automations.js';
