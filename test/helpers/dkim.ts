import { createRequire } from 'node:module';
import { generateKeyPairSync } from 'node:crypto';
import type { Transform } from 'node:stream';

/**
 * A DKIM key for acme.test (selector dg) and a signer, for the trust tests (R44). The signer is
 * nodemailer's (the one deskgate's outbound DKIM uses): mailauth 4's own signer makes a
 * signature that mailauth's verifier calls a bad signature for about 1 message in 500
 * (measured: 4 and 2 of two runs of 1,500, each failing again when checked twice, while 1,500
 * signed by nodemailer all verified), which made a trust test fail at random.
 */
type DkimSigner = new (opts: { domainName: string; keySelector: string; privateKey: string }) => { sign(input: Buffer): Transform };
const DKIM = createRequire(import.meta.url)('nodemailer/lib/dkim') as DkimSigner;
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** The TXT record to publish at dg._domainkey.acme.test. */
export const DKIM_TXT = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;

/** The message with an acme.test DKIM signature (rsa-sha256, relaxed/relaxed) prepended. */
export async function signed(raw: Buffer): Promise<Buffer> {
  const stream = new DKIM({ domainName: 'acme.test', keySelector: 'dg', privateKey: keyPem }).sign(raw);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
