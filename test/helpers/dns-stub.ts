import { createSocket, type Socket } from 'node:dgram';
import dnsPacket from 'dns-packet';

/**
 * A stub DNS server on 127.0.0.1 that answers TXT queries from a table (SPF, DKIM keys, DMARC)
 * and NXDOMAIN otherwise: mail authentication in tests without the network.
 */
export class DnsStub {
  private socket: Socket | undefined;
  readonly txt = new Map<string, string[]>();
  queries = 0;
  port = 0;

  async start(): Promise<this> {
    const sock = createSocket('udp4');
    this.socket = sock;
    sock.on('message', (msg, rinfo) => {
      let q;
      try { q = dnsPacket.decode(msg); } catch { return; }
      this.queries++;
      const question = q.questions?.[0];
      const name = question?.name.toLowerCase() ?? '';
      const records = question?.type === 'TXT' ? this.txt.get(name) : undefined;
      const answer = dnsPacket.encode({
        id: q.id, type: 'response', flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (records ? 0 : 3),
        questions: q.questions,
        answers: (records ?? []).map((data) => ({ type: 'TXT' as const, name: question!.name, class: 'IN' as const, ttl: 60, data: chunk(data) })),
      });
      sock.send(answer, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    this.port = sock.address().port;
    return this;
  }

  get server(): string {
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.socket ? this.socket.close(() => resolve()) : resolve()));
  }
}

/** TXT strings are at most 255 bytes each; long records (DKIM keys) are split. */
function chunk(s: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += 255) out.push(s.slice(i, i + 255));
  return out;
}
