import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';

/**
 * The Prometheus metrics of interfaces.md. One registry per daemon; I/O modules get the
 * object and count, pure modules never see it.
 */
export function createMetrics() {
  const registry = new Registry();
  let queueSource: (() => Promise<Record<string, number>>) | undefined;
  collectDefaultMetrics({ register: registry, prefix: 'deskgate_' });
  const m = {
    registry,
    received: new Counter({ name: 'deskgate_messages_received_total', help: 'Messages offered to deskgate (SMTP DATA, IMAP fetch, pipe)', labelNames: ['via'] as const, registers: [registry] }),
    accepted: new Counter({ name: 'deskgate_messages_accepted_total', help: 'Messages durably stored (250 / exit 0 / moved)', labelNames: ['via', 'duplicate'] as const, registers: [registry] }),
    rejected: new Counter({ name: 'deskgate_messages_rejected_total', help: 'Messages or recipients refused, by reason', labelNames: ['reason'] as const, registers: [registry] }),
    processed: new Counter({ name: 'deskgate_messages_processed_total', help: 'Messages processed, by outcome (done, failed, suspended)', labelNames: ['outcome'] as const, registers: [registry] }),
    ticketsCreated: new Counter({ name: 'deskgate_tickets_created_total', help: 'Tickets created', registers: [registry] }),
    comments: new Counter({ name: 'deskgate_comments_total', help: 'Comments stored from mail, by visibility', labelNames: ['visibility'] as const, registers: [registry] }),
    outbound: new Counter({ name: 'deskgate_outbound_total', help: 'Outbound delivery attempts, by result', labelNames: ['result'] as const, registers: [registry] }),
    // Read from the database when Prometheus scrapes, not kept up to date on every message.
    queueDepth: new Gauge({
      name: 'deskgate_queue_depth', help: 'Messages waiting, by queue (intake, outbox, suspended)', labelNames: ['queue'] as const, registers: [registry],
      async collect() { for (const [queue, n] of Object.entries((await queueSource?.()) ?? {})) this.set({ queue }, n); },
    }),
    smtpSessions: new Gauge({ name: 'deskgate_smtp_sessions', help: 'Open SMTP sessions', registers: [registry] }),
    smtpRefused: new Counter({ name: 'deskgate_smtp_sessions_refused_total', help: 'SMTP connections refused at connect, by reason (max_clients, too_many_sessions, denylisted)', labelNames: ['reason'] as const, registers: [registry] }),
    smtpClosed: new Counter({ name: 'deskgate_smtp_sessions_closed_total', help: 'SMTP sessions ended by deskgate, by reason (session_timeout, data_timeout, junk_commands, evicted, idle_timeout)', labelNames: ['reason'] as const, registers: [registry] }),
    intakeLatency: new Histogram({
      name: 'deskgate_intake_latency_seconds', help: 'From acceptance to the stored ticket comment',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
    }),
  };
  return Object.assign(m, {
    /** Where queue depths come from (the daemon's database). */
    setQueueSource(fn: () => Promise<Record<string, number>>): void { queueSource = fn; },
  });
}

export type Metrics = ReturnType<typeof createMetrics>;
