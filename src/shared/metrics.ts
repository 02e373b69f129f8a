import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

type PromParts = Pick<typeof Prom, 'Registry' | 'AggregatorRegistry' | 'Counter' | 'Gauge' | 'Histogram' | 'collectDefaultMetrics'>;

/** prom-client, loaded only by a process that serves /metrics (issue 15: inject starts per message). */
const promClient = (): PromParts => createRequire(import.meta.url)('prom-client') as PromParts;

/** Stand-ins with prom-client's shape that count nothing, for commands that serve no /metrics. */
function inert(): PromParts {
  class Metric { inc(): void {} set(): void {} observe(): void {} labels(): this { return this; } }
  class Registry { contentType = 'text/plain; version=0.0.4'; async metrics(): Promise<string> { return ''; } async getMetricsAsJSON(): Promise<unknown[]> { return []; } }
  return { Registry, AggregatorRegistry: Registry, Counter: Metric, Gauge: Metric, Histogram: Metric, collectDefaultMetrics: () => {} } as unknown as PromParts;
}

/** One registry's metrics as JSON (a processing thread's, sent to the listener's thread). */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

/**
 * The Prometheus metrics of interfaces.md. One registry per daemon; I/O modules get the
 * object and count, pure modules never see it.
 */
export function createMetrics(opts: { processMetrics?: boolean; /** false: count nothing, load no metrics library (CLI commands). */ enabled?: boolean } = {}) {
  const { Registry, AggregatorRegistry, Counter, Gauge, Histogram, collectDefaultMetrics } = opts.enabled === false ? inert() : promClient();
  const registry = new Registry();
  let queueSource: (() => Promise<Record<string, number>>) | undefined;
  let backlog: (() => { highWater: number; full: boolean }) | undefined;
  const others: Array<() => Promise<MetricsSnapshot[]>> = [];
  // Process-wide figures (CPU, memory) once per process: a processing thread leaves them out.
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'deskgate_' });
  const m = {
    registry,
    received: new Counter({ name: 'deskgate_messages_received_total', help: 'Messages offered to deskgate (SMTP DATA, IMAP fetch, pipe)', labelNames: ['via'] as const, registers: [registry] }),
    accepted: new Counter({ name: 'deskgate_messages_accepted_total', help: 'Messages durably stored (250 / exit 0 / moved)', labelNames: ['via', 'duplicate'] as const, registers: [registry] }),
    rejected: new Counter({ name: 'deskgate_messages_rejected_total', help: 'Messages or recipients refused, by reason', labelNames: ['reason'] as const, registers: [registry] }),
    processed: new Counter({ name: 'deskgate_messages_processed_total', help: 'Messages processed, by outcome (done, failed, suspended)', labelNames: ['outcome'] as const, registers: [registry] }),
    ticketsCreated: new Counter({ name: 'deskgate_tickets_created_total', help: 'Tickets created', registers: [registry] }),
    comments: new Counter({ name: 'deskgate_comments_total', help: 'Comments stored from mail, by visibility', labelNames: ['visibility'] as const, registers: [registry] }),
    bounces: new Counter({ name: 'deskgate_bounces_total', help: 'Bounces of notifications received (R67), by result (matched, unmatched: suspended)', labelNames: ['result'] as const, registers: [registry] }),
    outbound: new Counter({ name: 'deskgate_outbound_total', help: 'Outbound delivery attempts, by result', labelNames: ['result'] as const, registers: [registry] }),
    // Read from the database when Prometheus scrapes, not kept up to date on every message.
    queueDepth: new Gauge({
      name: 'deskgate_queue_depth', help: 'Messages waiting, by queue (intake, outbox, suspended)', labelNames: ['queue'] as const, registers: [registry],
      async collect() { for (const [queue, n] of Object.entries((await queueSource?.()) ?? {})) this.set({ queue }, n); },
    }),
    highWater: new Gauge({
      name: 'deskgate_intake_high_water', help: 'processing.backlog_high_water: past this many waiting messages, SMTP answers 451 4.3.2', registers: [registry],
      collect() { if (backlog) this.set(backlog().highWater); },
    }),
    backlogFull: new Gauge({
      name: 'deskgate_intake_backlog_full', help: '1 while the processing backlog is past the high-water mark (new mail deferred), else 0', registers: [registry],
      collect() { if (backlog) this.set(backlog().full ? 1 : 0); },
    }),
    smtpSessions: new Gauge({ name: 'deskgate_smtp_sessions', help: 'Open SMTP sessions', registers: [registry] }),
    smtpRefused: new Counter({ name: 'deskgate_smtp_sessions_refused_total', help: 'SMTP connections refused at connect, by reason (max_clients, too_many_sessions, denylisted)', labelNames: ['reason'] as const, registers: [registry] }),
    smtpClosed: new Counter({ name: 'deskgate_smtp_sessions_closed_total', help: 'SMTP sessions ended by deskgate, by reason (session_timeout, data_timeout, junk_commands, evicted, idle_timeout)', labelNames: ['reason'] as const, registers: [registry] }),
    oauth2Tokens: new Counter({ name: 'deskgate_oauth2_token_requests_total', help: 'Access token requests to a token endpoint (R72), by login (imap:ACCOUNT, smarthost) and result (ok, error)', labelNames: ['login', 'result'] as const, registers: [registry] }),
    intakeLatency: new Histogram({
      name: 'deskgate_intake_latency_seconds', help: 'From acceptance to the stored ticket comment',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
    }),
  };
  return Object.assign(m, {
    /** Where queue depths come from (the daemon's database). */
    setQueueSource(fn: () => Promise<Record<string, number>>): void { queueSource = fn; },
    /** The listener's backlog gate (processing.backlog_high_water). */
    setBacklogSource(fn: () => { highWater: number; full: boolean }): void { backlog = fn; },
    /** Metrics counted elsewhere (serve's processing threads), summed into what /metrics shows. */
    addSource(fn: () => Promise<MetricsSnapshot[]>): void { others.push(fn); },
    /** The Prometheus text of this registry and every source, counters and histograms summed. */
    async render(): Promise<string> {
      if (others.length === 0) return registry.metrics();
      const parts: MetricsSnapshot[] = [await registry.getMetricsAsJSON() as MetricsSnapshot];
      for (const fn of others) parts.push(...(await fn()));
      return AggregatorRegistry.aggregate(parts).metrics();
    },
  });
}

export type Metrics = ReturnType<typeof createMetrics>;
