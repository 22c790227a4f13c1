/** Small helpers: IDs, encodings, durations. */
import sodium from 'libsodium-wrappers';

await sodium.ready;

export { sodium };

const B36 = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A 25-character base-36 ID like swarmkit's `identity.NewID()` (128 random bits). */
export function newId(): string {
  let v = 0n;
  for (const b of sodium.randombytes_buf(16)) v = (v << 8n) | BigInt(b);
  let s = '';
  for (let i = 0; i < 25; i++) {
    s = B36[Number(v % 36n)]! + s;
    v /= 36n;
  }
  return s;
}

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 base32, lower case, no padding. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(acc >>> (bits - 5)) & 31]!;
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31]!;
  return out;
}

export const isBase32 = (s: string): boolean => /^[a-z2-7]+$/.test(s);

export const toB64 = (b: Uint8Array): string => sodium.to_base64(b, sodium.base64_variants.ORIGINAL);
export const fromB64 = (s: string): Uint8Array => sodium.from_base64(s, sodium.base64_variants.ORIGINAL);

const enc = new TextEncoder();
const dec = new TextDecoder();
export const utf8 = (s: string): Uint8Array => enc.encode(s);
export const fromUtf8 = (b: Uint8Array): string => dec.decode(b);

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** `12h`, `90m`, `30s`, `1500ms`, `1h30m`, or a bare number of milliseconds. */
export function parseDuration(s: string | number): number | undefined {
  if (typeof s === 'number') return Number.isFinite(s) && s > 0 ? s : undefined;
  if (/^\d+$/.test(s)) return Number(s) > 0 ? Number(s) : undefined;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * unit[m[2]!]!;
    pos = re.lastIndex;
  }
  return pos === s.length && s.length > 0 && total > 0 ? Math.round(total) : undefined;
}

/** `host:port` → parts; IPv6 in brackets. */
export function splitHostPort(s: string, defaultPort: number): { host: string; port: number } | undefined {
  const m = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(s) ?? /^([^:\s]+)(?::(\d{1,5}))?$/.exec(s);
  if (m === null) return undefined;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 0 || port > 65535) return undefined;
  return { host: m[1]!, port };
}

export { joinHostPort } from '@weft/net';
