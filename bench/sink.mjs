// Baseline for the ingest benchmarks: a bare smtp-server that reads each message and answers 250.
import { SMTPServer } from 'smtp-server';
const server = new SMTPServer({
  authOptional: true, disableReverseLookup: true, logger: false, maxClients: 200,
  onData(stream, _session, cb) { stream.on('data', () => {}); stream.on('end', () => cb(null, 'ok')); },
});
server.listen(Number(process.argv[2] ?? 2627), '127.0.0.1', () => console.log('sink listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
