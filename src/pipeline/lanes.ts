import { replyIdsFromHeaders } from '../parse/header-fields.js';
import { laneKey, laneOf, tokenFromAddress, verifyReplyToken } from '../thread/index.js';
import type { TicketsRepo } from '../store/index.js';

/**
 * processing.workers > 1: the lane of a message being accepted (see thread/lane.ts), from its
 * header block and envelope: one indexed read of the Message-IDs it replies to, no parse.
 */
export function createLaneAssigner(deps: { tickets: Pick<TicketsRepo, 'ticketsForMessageIds'>; secret: string }) {
  return async (headerBlock: string, envelopeTo: readonly string[], messageId: string | null, sha256: string): Promise<number> => {
    const { inReplyTo, references } = replyIdsFromHeaders(headerBlock);
    const ids = [...inReplyTo, ...references];
    const known = ids.length > 0 ? await deps.tickets.ticketsForMessageIds(ids) : new Map<string, number>();
    const addressTokenTickets = envelopeTo
      .map((a) => tokenFromAddress(a))
      .map((t) => (t ? verifyReplyToken(t, deps.secret) : undefined))
      .filter((id): id is number => id !== undefined);
    return laneOf(laneKey({ inReplyTo, references, messageId, addressTokenTickets, fallback: sha256 }, known));
  };
}

export type LaneAssigner = ReturnType<typeof createLaneAssigner>;
