/**
 * Underlay endpoints as text, Docker's way: `198.18.0.1:2377`, `[fd18::1]:2377` (RFC 3986 §3.2.2
 * brackets around an IPv6 literal, so the port stays readable).
 */
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './ip.ts';
import { err, ok, type Result } from './result.ts';

/** `host:port`, with an IPv6 host in brackets. */
export const joinHostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/**
 * Splits `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT` (the port from `defaultPort` when absent).
 * A bare IPv6 literal without brackets is accepted as an address without a port. The host is
 * returned in canonical form (RFC 5952 for IPv6), so equal addresses compare equal as text.
 */
export function splitHostPort(s: string, defaultPort: number): Result<{ host: string; port: number; family: 4 | 6 }> {
  const bad = (why: string) => err<{ host: string; port: number; family: 4 | 6 }>(`invalid address ${JSON.stringify(s)}: ${why}`);
  let host: string;
  let portText: string | undefined;
  const br = /^\[([^\]]*)\](?::([^:]*))?$/.exec(s);
  if (br !== null) {
    host = br[1]!;
    portText = br[2];
  } else if (s.indexOf(':') !== s.lastIndexOf(':')) {
    host = s; // an IPv6 literal without a port
  } else {
    const i = s.indexOf(':');
    host = i < 0 ? s : s.slice(0, i);
    portText = i < 0 ? undefined : s.slice(i + 1);
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return bad(`port ${JSON.stringify(portText)} is not a number from 0 to 65535`);
    port = Number(portText);
  }
  const canon = canonicalIP(host);
  if (!canon.ok) return bad(`${canon.error}; expected IP[:PORT], an IPv6 address in brackets when it has a port ([fd00::1]:2377)`);
  return ok({ host: canon.value.text, port, family: canon.value.family });
}

/** The canonical text of an IPv4 or IPv6 address (dotted quad; RFC 5952), with its family. */
export function canonicalIP(s: string): Result<{ text: string; family: 4 | 6 }> {
  if (s.includes(':')) {
    const v6 = parseIPv6(s);
    return v6.ok ? ok({ text: formatIPv6(v6.value), family: 6 }) : v6;
  }
  const v4 = parseIPv4(s);
  return v4.ok ? ok({ text: formatIPv4(v4.value), family: 4 }) : v4;
}

/** 4 or 6 by the text's shape (":" only in IPv6), without validating it. */
export const ipFamily = (s: string): 4 | 6 => (s.includes(':') ? 6 : 4);
