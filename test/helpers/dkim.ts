import { createRequire } from 'node:module';
import { generateKeyPairSync } from 'node:crypto';

/** A DKIM key for acme.test (selector dg) and mailauth's signer, for the trust tests (R44). */
const { dkimSign } = createRequire(import.meta.url)('mailauth/lib/dkim/sign') as {
  dkimSign: (msg: Buffer, opts: unknown) => Promise<{ signatures: string; errors: unknown[] }>;
};
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** The TXT record to publish at dg._domainkey.acme.test. */
export const DKIM_TXT = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;

/** The message with an acme.test DKIM signature prepended. */
export async function signed(raw: Buffer): Promise<Buffer> {
  const r = await dkimSign(raw, { canonicalization: 'relaxed/relaxed', signatureData: [{ signingDomain: 'acme.test', selector: 'dg', privateKey: keyPem, algorithm: 'rsa-sha256' }] });
  return Buffer.concat([Buffer.from(r.signatures), raw]);
}
