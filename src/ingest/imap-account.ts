/** The key an IMAP mailbox's state is stored under (deskgate imap status). */
export function accountKey(a: { user: string; host: string; port: number; mailbox: string }): string {
  return `${a.user}@${a.host}:${a.port}/${a.mailbox}`;
}
