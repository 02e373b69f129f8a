import { createServer } from 'node:net';

/** A port on 127.0.0.1 that nothing listens on right now (a server to start, or a closed port to fail on). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
