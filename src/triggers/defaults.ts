import type { Trigger, Automation, Condition } from './definitions.js';

/**
 * The shipped triggers (R51) and automations (R52), in run order. docs/notifications.md lists
 * them for admins; `deskgate triggers list` prints the ones in force.
 */
const c = (field: Condition['field'], value: Condition['value'], op: Condition['op'] = 'is'): Condition => ({ field, op, value });

const SUBJECT = '[Ticket #{{ticket.id}}] {{ticket.title}}';
const PUBLIC_UPDATE = `{{ticket.latest_public_comment}}
{% if history %}
---- Earlier in this ticket ----

{{ticket.comments_formatted}}{% endif %}`;
const STAFF_UPDATE = `{{ticket.latest_comment}}

Ticket #{{ticket.id}} · {{ticket.status}} · requester {{ticket.requester.name}} <{{ticket.requester.email}}>{% if ticket.url %}
{{ticket.url}}{% endif %}`;

export const DEFAULT_TRIGGERS: Trigger[] = [
  {
    id: 'notify-requester-received', name: 'Notify requester and CCs of received request', active: true,
    conditions: { all: [c('is', 'created'), c('current_user', 'end_user'), c('comment', 'public')], any: [] },
    actions: [{
      email_user: 'requester_and_ccs', include_author: true, subject: `[Ticket #{{ticket.id}}] Received: {{ticket.title}}`,
      body: `Your request (#{{ticket.id}}) has been received and is being reviewed by our support staff.

To add a comment, reply to this email.

{{ticket.latest_public_comment}}`,
    }],
  },
  {
    id: 'notify-requester-proactive', name: 'Notify requester of new proactive ticket', active: true,
    conditions: { all: [c('is', 'created'), c('current_user', 'agent'), c('comment', 'public')], any: [] },
    actions: [{ email_user: 'requester_and_ccs', include_author: false, subject: SUBJECT, body: `{{ticket.latest_public_comment}}` }],
  },
  {
    id: 'notify-requester-comment', name: 'Notify requester and CCs of comment update', active: true,
    conditions: { all: [c('is', 'updated'), c('comment', 'public')], any: [] },
    actions: [{ email_user: 'requester_and_ccs', include_author: false, subject: SUBJECT, body: PUBLIC_UPDATE }],
  },
  {
    id: 'notify-assignee-comment', name: 'Notify assignee of comment update', active: true,
    conditions: {
      all: [c('is', 'updated'), c('comment', 'present'), c('assignee', 'present'), c('assignee', 'current_user', 'is_not'),
        c('assignee', 'requester', 'is_not'), c('assignee_changed', false), c('status_changed_from', 'solved', 'is_not')],
      any: [],
    },
    actions: [{ email_user: 'assignee', include_author: false, subject: SUBJECT, body: STAFF_UPDATE }],
  },
  {
    id: 'notify-assignee-assignment', name: 'Notify assignee of assignment', active: true,
    conditions: { all: [c('assignee_changed', true), c('assignee', 'present'), c('assignee', 'current_user', 'is_not')], any: [] },
    actions: [{ email_user: 'assignee', include_author: false, subject: '[Ticket #{{ticket.id}}] Assigned to you: {{ticket.title}}', body: `Ticket #{{ticket.id}} has been assigned to you.\n\n${STAFF_UPDATE}` }],
  },
  {
    id: 'notify-assignee-reopened', name: 'Notify assignee of reopened ticket', active: true,
    conditions: { all: [c('status_changed_from', 'solved'), c('assignee', 'present'), c('assignee', 'current_user', 'is_not')], any: [] },
    actions: [{ email_user: 'assignee', include_author: false, subject: '[Ticket #{{ticket.id}}] Reopened: {{ticket.title}}', body: `Ticket #{{ticket.id}} was reopened.\n\n${STAFF_UPDATE}` }],
  },
  {
    id: 'notify-group-assignment', name: 'Notify group of assignment', active: true,
    conditions: { all: [c('group', 'present'), c('assignee', 'absent')], any: [c('group_changed', true), c('assignee_changed', true)] },
    actions: [{ email_user: 'group', include_author: false, subject: '[Ticket #{{ticket.id}}] New in {{ticket.group.name}}: {{ticket.title}}', body: `Ticket #{{ticket.id}} is waiting in {{ticket.group.name}}.\n\n${STAFF_UPDATE}` }],
  },
  {
    id: 'notify-all-agents-received', name: 'Notify all agents of received request', active: false,
    conditions: { all: [c('is', 'created')], any: [] },
    actions: [{ email_user: 'all_agents', include_author: false, subject: '[Ticket #{{ticket.id}}] New: {{ticket.title}}', body: STAFF_UPDATE }],
  },
  {
    id: 'auto-assign-first-responder', name: 'Auto-assign to first email responding agent', active: false,
    conditions: { all: [c('is', 'updated'), c('channel', 'email'), c('current_user', 'agent'), c('comment', 'present'), c('assignee', 'absent')], any: [] },
    actions: [{ set_assignee: 'current_user' }],
  },
  {
    id: 'notify-requester-solved', name: 'Notify requester of solved request', active: true,
    conditions: { all: [c('status_changed_to', 'solved')], any: [] },
    actions: [{ email_user: 'requester', include_author: false, subject: '[Ticket #{{ticket.id}}] Solved: {{ticket.title}}', body: `Your request (#{{ticket.id}}) has been solved. If it is not, reply to this email and it opens again.

{{ticket.latest_public_comment}}` }],
  },
  {
    id: 'notify-followers', name: 'Notify followers of update', active: true,
    conditions: { all: [c('comment', 'present')], any: [] },
    actions: [{ email_user: 'followers', include_author: false, subject: SUBJECT, body: STAFF_UPDATE }],
  },
];

export const DEFAULT_AUTOMATIONS: Automation[] = [
  {
    id: 'close-solved-4d', name: 'Close ticket 4 days after status is set to solved', active: true,
    conditions: { all: [c('status', 'solved'), c('hours_since_solved', 96, 'gte')], any: [] },
    actions: [{ set_status: 'closed' }],
  },
  {
    id: 'pending-reminder-24h', name: 'Pending reminder after 24 hours', active: false,
    conditions: { all: [c('status', 'pending'), c('hours_since_status_changed', 24, 'gte'), c('tags', 'pending_reminder_24h', 'not_includes')], any: [] },
    actions: [
      { email_user: 'requester', include_author: false, subject: '[Ticket #{{ticket.id}}] Waiting for your reply: {{ticket.title}}', body: 'We are waiting for your reply to ticket #{{ticket.id}}.\n\n{{ticket.latest_public_comment}}' },
      { add_tags: ['pending_reminder_24h'] },
    ],
  },
  {
    id: 'pending-reminder-5d', name: 'Pending reminder after 5 days', active: false,
    conditions: { all: [c('status', 'pending'), c('hours_since_status_changed', 120, 'gte'), c('tags', 'pending_reminder_5d', 'not_includes')], any: [] },
    actions: [
      { email_user: 'requester', include_author: false, subject: '[Ticket #{{ticket.id}}] Still waiting for your reply: {{ticket.title}}', body: 'Ticket #{{ticket.id}} has been waiting for your reply for 5 days.\n\n{{ticket.latest_public_comment}}' },
      { add_tags: ['pending_reminder_5d'] },
    ],
  },
];
