import { promises as dns } from 'node:dns';

export type ResolveFn = (name: string, rrtype: string) => Promise<unknown>;

/**
 * The resolver mail authentication uses (R44): the `dns:` servers (system ones when empty), one
 * try with the configured timeout (a timeout is ETIMEOUT, which mailauth reports as temperror,
 * never a pass), and a small cache of answers and of "no such record" for five minutes.
 */
export function createDnsResolver(opts: { servers: readonly string[]; timeoutMs: number; cacheMs?: number; maxEntries?: number }): ResolveFn {
  const resolver = new dns.Resolver({ timeout: opts.timeoutMs, tries: 1 });
  if (opts.servers.length > 0) resolver.setServers([...opts.servers]);
  const cacheMs = opts.cacheMs ?? 5 * 60_000;
  const max = opts.maxEntries ?? 5000;
  const cache = new Map<string, { until: number; value?: unknown; error?: NodeJS.ErrnoException }>();
  return async (name, rrtype) => {
    const key = `${rrtype}:${name.toLowerCase()}`;
    const hit = cache.get(key);
    if (hit && hit.until > Date.now()) {
      if (hit.error) throw hit.error;
      return hit.value;
    }
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(Object.assign(new Error(`DNS ${rrtype} ${name} timed out`), { code: 'ETIMEOUT' })), opts.timeoutMs + 100).unref());
    try {
      const value = await Promise.race([resolver.resolve(name, rrtype as 'TXT'), timeout]);
      if (cache.size >= max) cache.delete(cache.keys().next().value!);
      cache.set(key, { until: Date.now() + cacheMs, value });
      return value;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOTFOUND' || e.code === 'ENODATA') cache.set(key, { until: Date.now() + cacheMs, error: e });
      throw e;
    }
  };
}
