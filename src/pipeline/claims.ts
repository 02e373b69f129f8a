import { createNodeLease, type NodeLease } from '../shared/node-id.js';
import type { IntakeRepo, OutboxRepo, NodesRepo } from '../store/index.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';

/**
 * This process's lease on its claims (R71): a heartbeat in the nodes table, renewed every third
 * of the lease. Each beat also gives back the intake and outbox claims of processes whose
 * heartbeat is older than the lease: killed, hung, or the previous container's PID 1.
 */
export function createClaimLease(deps: {
  nodeId: string; leaseMs: number; clock: Clock; logger: Logger;
  nodes: NodesRepo; intake: Pick<IntakeRepo, 'claimers' | 'releaseClaims'>; outbox: Pick<OutboxRepo, 'claimers' | 'releaseClaims'>;
  /** What this node leads, written with each heartbeat (deskgate stats). */
  leads?: () => string[];
  /** R43's counters: expired minutes are deleted here, in autocommit, not inside a batch's transaction. */
  rates?: { prune(at: string): Promise<number> };
}): NodeLease {
  // The sweep runs beside the heartbeat, never in front of it: on PostgreSQL giving back a slow
  // node's claims may wait on rows its batch has locked, and meanwhile this node must go on
  // beating (or it would look stale itself) and claiming.
  let sweeping: Promise<void> | undefined;
  const sweep = (): void => {
    sweeping ??= (async () => {
      try {
        await takeBackClaims();
        await deps.rates?.prune(deps.clock.now().toISOString());
      } catch (err) {
        deps.logger.error({ event: 'node:sweep_failed', err }, 'taking back stale claims failed; retrying at the next beat');
      } finally {
        sweeping = undefined;
      }
    })();
  };
  const lease: NodeLease = createNodeLease({
    id: deps.nodeId, leaseMs: deps.leaseMs, clock: deps.clock,
    beat: async (self, now) => { await deps.nodes.beat(self, now, deps.leads?.() ?? []); sweep(); },
    onError: (err) => deps.logger.error({ event: 'node:heartbeat_failed', err }, 'heartbeat failed; retrying'),
  });
  async function takeBackClaims(): Promise<void> {
    const staleBefore = lease.staleBefore();
    const live = await deps.nodes.liveIds(staleBefore);
    for (const [queue, repo] of [['intake', deps.intake], ['outbox', deps.outbox]] as const) {
      for (const node of await repo.claimers()) {
        if (node === deps.nodeId || live.has(node)) continue;
        const n = await repo.releaseClaims(node);
        if (n > 0) deps.logger.warn({ event: 'node:claims_taken_back', queue, node, count: n }, 'took back claims of a stopped process');
      }
    }
    await deps.nodes.prune(staleBefore, deps.nodeId);
  }
  return lease;
}
