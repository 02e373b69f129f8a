/**
 * Processing lanes (processing.workers > 1): a message's lane is fixed when it is received, and
 * each worker takes the lanes of its own index, oldest first, so two messages of one thread are
 * stored in arrival order whatever the number of workers (R10: an original before its reply).
 *
 * The key is the ticket the message will thread to when its headers or address token name a
 * known one; otherwise the thread's root as the headers give it (the first References id, else
 * In-Reply-To, else its own Message-ID), which is what a quick reply-all to a message not yet
 * processed names too. Threaded correctly but possibly processed beside, not after, mail of its
 * ticket received just before it: a reply that names its ticket only by a token in the body; one
 * whose client dropped References, answering an unprocessed original that had References; one
 * that reaches a ticket while an earlier reply, laned before the ticket existed, still waits.
 */
export interface LaneInput {
  inReplyTo: readonly string[];
  references: readonly string[];
  messageId: string | null;
  /** Ticket ids of correctly signed tokens in the recipients' plus-addresses. */
  addressTokenTickets: readonly number[];
  /** A stand-in for a message without any Message-ID (its bytes' digest). */
  fallback: string;
}

export function laneKey(input: LaneInput, ticketByMessageId: ReadonlyMap<string, number>): string {
  // The same order as matchThread: In-Reply-To, then References newest first, then the token.
  for (const mid of [...input.inReplyTo, ...[...input.references].reverse()]) {
    const t = ticketByMessageId.get(mid);
    if (t !== undefined) return `ticket:${t}`;
  }
  if (input.addressTokenTickets.length > 0) return `ticket:${input.addressTokenTickets[0]}`;
  return `root:${input.references[0] ?? input.inReplyTo[0] ?? input.messageId ?? input.fallback}`;
}

/** A 31-bit FNV-1a hash of the key: stored in intake.lane, taken modulo the number of workers. */
export function laneOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & 0x7fffffff;
}
