import { BlockList, isIP } from 'node:net';

/** A list of IPs and CIDR ranges ("192.0.2.7", "10.0.0.0/8", "2001:db8::/32"). */
export function parseIpList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/');
    const family = isIP(addr!) === 6 ? 'ipv6' : 'ipv4';
    if (bits !== undefined) list.addSubnet(addr!, Number(bits), family);
    else list.addAddress(addr!, family);
  }
  return list;
}

export function isValidIpEntry(e: string): boolean {
  const [addr, bits, extra] = e.split('/');
  const v = isIP(addr ?? '');
  if (v === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return Number.isInteger(n) && n >= 0 && n <= (v === 4 ? 32 : 128);
}

export function matchesIp(list: BlockList, ip: string): boolean {
  const plain = ip.replace(/^::ffff:/, '');
  const family = isIP(plain) === 6 ? 'ipv6' : 'ipv4';
  return isIP(plain) !== 0 && list.check(plain, family);
}
