import type { Automation } from '../triggers/index.js';
import type { PipelineContext } from './context.js';
import type { Notifier } from './notify.js';

export interface AutomationRun {
  tickets: number;
  fired: Array<{ ticketId: number; automations: string[] }>;
  queued: number;
}

/**
 * R52: every automation over every ticket that is not closed, at `now` (injected, so tests move
 * the clock). Each ticket is its own transaction: one bad ticket does not stop the run.
 */
export async function runAutomations(ctx: PipelineContext, notifier: Notifier, automations: readonly Automation[], now: Date): Promise<AutomationRun> {
  const active = automations.filter((a) => a.active);
  const run: AutomationRun = { tickets: 0, fired: [], queued: 0 };
  if (active.length === 0) return run;
  for (const id of await ctx.tickets.openTicketIds()) {
    run.tickets++;
    try {
      const r = await ctx.sql.tx(async () => {
        await ctx.tickets.lock(id); // R71: an email or a CLI update on another node waits, and vice versa
        return notifier.onAutomationTick(active, id, now);
      });
      const automationsFired = r.fired.filter((f) => active.some((a) => a.id === f));
      if (automationsFired.length > 0) run.fired.push({ ticketId: id, automations: automationsFired });
      run.queued += r.queued.length;
    } catch (err) {
      ctx.logger.error({ event: 'automations:error', ticket_id: id, err }, 'automation run failed on a ticket');
    }
  }
  ctx.logger.info({ event: 'automations:ran', tickets: run.tickets, fired: run.fired.length, queued: run.queued }, 'automations ran');
  return run;
}
