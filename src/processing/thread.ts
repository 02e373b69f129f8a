import { parentPort, workerData } from 'node:worker_threads';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { composeApp } from '../compose.js';
import { createLogger } from '../shared/logger.js';
import { errorCode, errorMessage } from '../shared/errors.js';
import { startLeaderTicks } from './leader-ticks.js';
import type { ProcessingThreadData, ToThread, FromThread } from './protocol.js';

/**
 * One processing thread of `deskgate serve` (issue 15): parse, thread, rules, store, triggers,
 * outbox and sending, on its own event loop and its own database connection, so none of it
 * delays an SMTP reply. Thread 0 also runs the leader tasks (automations, suspended expiry).
 */
const data = workerData as ProcessingThreadData;
/** SQLite: a processing transaction's longest hold of the write lock before it commits and goes on. */
const TX_BUDGET_MS = 25;
const port = parentPort!;
const send = (m: FromThread): void => port.postMessage(m);
const logger = createLogger(data.log.level, { thread: `processing-${data.index}` }, { format: data.log.format, surroundings: data.log.surroundings });

/**
 * processing.nice (Linux): a thread is a task of its own there, and the threads it starts (the
 * parser threads) inherit its nice value; lowering one's priority needs no privilege.
 */
function lowerPriority(nice: number): void {
  if (nice <= 0 || process.platform !== 'linux') return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid, nice);
  } catch (err) {
    logger.warn({ event: 'processing:nice_failed', code: 'PROCESSING_NICE', err }, 'could not lower the processing thread\'s priority (processing.nice)');
  }
}

async function main(): Promise<void> {
  lowerPriority(data.config.processing.nice);
  const owner = data.index === 0 ? data.nodeId : `${data.nodeId}/${data.index}`;
  const app = await composeApp(data.config, {
    logger, nodeId: owner, syncStaff: false, processMetrics: false,
    // SQLite has one write lock, shared with the listener's intake commits: keep each hold short.
    ...(data.config.store.backend === 'sqlite' ? { txBudgetMs: TX_BUDGET_MS } : {}),
    ...(data.count > 1 ? { lanes: { index: data.index, count: data.count } } : {}),
    ...(data.parseWorkers !== undefined ? { parseWorkers: data.parseWorkers } : {}),
    ...(data.writeGate ? { writeGate: { memory: data.writeGate, side: 'processing' as const, slot: data.index } } : {}),
  });
  // A thread started again after its predecessor died takes back what that one held.
  const reclaimed = await app.reclaimOwn();
  if (reclaimed > 0) logger.warn({ event: 'processing:claims_reclaimed', count: reclaimed }, 'took back the claims of the processing thread this one replaces');
  let imapLeads: string[] = [];
  app.reportLeads(() => imapLeads);
  app.processor.start();
  app.sender.start();
  const ticks = data.index === 0 ? startLeaderTicks(app, logger) : undefined;
  let lastLeads = '';
  const leadsTimer = setInterval(() => {
    const leads = app.leadership.leads();
    if (JSON.stringify(leads) !== lastLeads) { lastLeads = JSON.stringify(leads); send({ t: 'leads', leads }); }
  }, 500);
  let stopping: Promise<void> | undefined;
  port.on('message', (m: ToThread) => {
    switch (m.t) {
      case 'kick': app.processor.kick(); break;
      case 'imap-leads': imapLeads = m.leads; break;
      case 'reload':
        app.reload(m.config).catch((err: unknown) => logger.error({ event: 'processing:reload_failed', err }, 'processing thread could not apply the new config'));
        break;
      case 'metrics':
        app.metrics.registry.getMetricsAsJSON().then((snapshot) => send({ t: 'metrics', id: m.id, snapshot }), () => send({ t: 'metrics', id: m.id, snapshot: [] }));
        break;
      case 'stop':
        stopping ??= (async () => {
          clearInterval(leadsTimer);
          await ticks?.stop();
          await app.processor.stop();
          await app.close(); // stops the sender after the last batch queued its mail, gives back claims
          send({ t: 'stopped' });
          port.close();
        })();
        break;
    }
  });
  send({ t: 'ready' });
}

main().catch((err: unknown) => {
  logger.error({ event: 'processing:start_failed', code: errorCode(err), err }, 'processing thread could not start');
  send({ t: 'failed', code: errorCode(err), message: errorMessage(err) });
  logger.flush();
});
