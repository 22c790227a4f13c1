/**
 * Ethernet MAC addresses, held as a JS number 0 .. 2^48-1 (exact in a double).
 * A number is allocation-free to read from a frame and works directly as a
 * `Map` key for forwarding databases.
 */
import { type Result, ok, err } from './result.ts';

export const MAC_BROADCAST = 0xffffffffffff;
const TWO32 = 0x100000000;

/** Parses "02:42:0a:00:00:02" (also "-" separated); hex is case-insensitive, each part exactly two digits. */
export const parseMac = (s: string): Result<number> => {
  if (s.length !== 17) return err(`invalid MAC address ${JSON.stringify(s)}: expected six two-digit hex parts such as "02:42:0a:00:00:02"`);
  const sep = s.charCodeAt(2);
  if (sep !== 58 && sep !== 45) return err(`invalid MAC address ${JSON.stringify(s)}: expected six two-digit hex parts such as "02:42:0a:00:00:02"`);
  let v = 0;
  for (let k = 0; k < 6; k++) {
    const i = k * 3;
    if (k > 0 && s.charCodeAt(i - 1) !== sep) return err(`invalid MAC address ${JSON.stringify(s)}: separators must all be ":" (or all "-")`);
    const hi = hex(s.charCodeAt(i));
    const lo = hex(s.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) return err(`invalid MAC address ${JSON.stringify(s)}: part ${JSON.stringify(s.slice(i, i + 2))} is not hexadecimal`);
    v = v * 256 + hi * 16 + lo;
  }
  return ok(v);
};

const hex = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;

const HEX = '0123456789abcdef';

/** Lowercase colon form, "02:42:0a:00:00:02". */
export const formatMac = (mac: number): string => {
  let s = '';
  for (let k = 5; k >= 0; k--) {
    const b = Math.floor(mac / 2 ** (8 * k)) & 255;
    s += HEX[b >> 4]! + HEX[b & 15]! + (k > 0 ? ':' : '');
  }
  return s;
};

/** Reads six bytes at `off`; caller guarantees bounds. Allocation-free. */
export const readMac = (buf: Uint8Array, off: number): number =>
  ((buf[off]! << 8) | buf[off + 1]!) * TWO32 +
  (((buf[off + 2]! << 24) | (buf[off + 3]! << 16) | (buf[off + 4]! << 8) | buf[off + 5]!) >>> 0);

export const writeMac = (buf: Uint8Array, off: number, mac: number): void => {
  const hi = Math.floor(mac / TWO32);
  const lo = mac >>> 0;
  buf[off] = hi >>> 8;
  buf[off + 1] = hi;
  buf[off + 2] = lo >>> 24;
  buf[off + 3] = lo >>> 16;
  buf[off + 4] = lo >>> 8;
  buf[off + 5] = lo;
};

/** From a 6-byte array; `undefined` if the length is not 6. */
export const macFromBytes = (bytes: Uint8Array): number | undefined => (bytes.length === 6 ? readMac(bytes, 0) : undefined);

export const macToBytes = (mac: number): Uint8Array => {
  const b = new Uint8Array(6);
  writeMac(b, 0, mac);
  return b;
};

const firstOctet = (mac: number): number => Math.floor(mac / 0x10000000000) & 255;

/** I/G bit (least significant bit of the first octet). Broadcast is also multicast. */
export const isMulticastMac = (mac: number): boolean => (firstOctet(mac) & 1) === 1;
export const isBroadcastMac = (mac: number): boolean => mac === MAC_BROADCAST;
export const isUnicastMac = (mac: number): boolean => !isMulticastMac(mac);
/** U/L bit (second least significant bit of the first octet). */
export const isLocallyAdministeredMac = (mac: number): boolean => (firstOctet(mac) & 2) === 2;

/**
 * A random locally administered unicast MAC. `fill` writes random bytes into
 * its argument — `crypto.getRandomValues` fits, and tests pass a fixed source.
 */
export const randomMac = (fill: (bytes: Uint8Array) => unknown): number => {
  const b = new Uint8Array(6);
  fill(b);
  b[0] = (b[0]! & 0xfc) | 0x02;
  return readMac(b, 0);
};

/** Docker's convention for container MACs: 02:42 followed by the four IPv4 bytes. */
export const macFromIPv4 = (ipv4: number): number => 0x0242 * TWO32 + (ipv4 >>> 0);

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const b64val = (c: number): number =>
  c >= 65 && c <= 90 ? c - 65 : c >= 97 && c <= 122 ? c - 71 : c >= 48 && c <= 57 ? c + 4 : c === 43 ? 62 : c === 47 ? 63 : -1;

/**
 * Decodes the MAC form Docker puts in JSON: Go marshals `net.HardwareAddr`
 * (a []byte) as standard base64, so 02:42:0a:63:00:32 arrives as "AkIKYwAy".
 * Also accepts the colon form, which newer Docker versions send as a string.
 */
export const parseDockerMac = (s: string): Result<number> => {
  if (s.length === 17) return parseMac(s);
  if (s.length !== 8) return err(`invalid MAC address ${JSON.stringify(s)}: expected 8 base64 characters (6 bytes) or "xx:xx:xx:xx:xx:xx"`);
  let v = 0;
  for (let i = 0; i < 8; i++) {
    const d = b64val(s.charCodeAt(i));
    if (d < 0) return err(`invalid MAC address ${JSON.stringify(s)}: ${JSON.stringify(s[i])} is not a base64 character`);
    v = v * 64 + d;
  }
  return ok(v);
};

/** The base64 form Docker (Go's encoding/json for []byte) uses. */
export const formatDockerMac = (mac: number): string => {
  let s = '';
  for (let i = 7; i >= 0; i--) s += B64[Math.floor(mac / 2 ** (6 * i)) & 63]!;
  return s;
};
