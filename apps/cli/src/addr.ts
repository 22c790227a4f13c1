/** Address checks for flag values, on @weft/net. Loaded only when a command has such a flag. */
import { cidrContains, parseCidr, parseIP, parseMac } from '@weft/net';

/** Returns an error sentence, or undefined when the value is well-formed. */
export function checkAddress(type: 'ip' | 'cidr' | 'mac', s: string): string | undefined {
  const r = type === 'ip' ? parseIP(s) : type === 'cidr' ? parseCidr(s) : parseMac(s);
  return r.ok ? undefined : r.error;
}

/** Does `cidr` contain `ip`? Both must be well-formed (checked by the parser). */
export function inSubnet(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  const a = parseIP(ip);
  return c.ok && a.ok && cidrContains(c.value, a.value);
}
