/** Picks the adapter for the running runtime (Deno, Bun, else Node); one `Sys` per thread (workers call this too). */
import type { Sys } from './types.ts';

let cached: Sys | undefined;

export async function loadSys(): Promise<Sys> {
  if (cached !== undefined) return cached;
  if ('Deno' in globalThis) cached = (await import('./deno.ts')).createDenoSys();
  else if ('Bun' in globalThis) cached = await (await import('./bun.ts')).createBunSys();
  else cached = (await import('./node.ts')).createNodeSys();
  return cached;
}

export class SysError extends Error {
  readonly errno: number;
  constructor(what: string, errno: number) {
    super(`${what} failed: ${errnoName(errno)} (errno ${errno})`);
    this.name = 'SysError';
    this.errno = errno;
  }
}

const NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 4: 'EINTR', 9: 'EBADF', 11: 'EAGAIN', 13: 'EACCES', 16: 'EBUSY', 17: 'EEXIST',
  19: 'ENODEV', 22: 'EINVAL', 24: 'EMFILE', 90: 'EMSGSIZE', 92: 'ENOPROTOOPT', 95: 'EOPNOTSUPP',
  98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL', 101: 'ENETUNREACH', 111: 'ECONNREFUSED',
};
export const errnoName = (e: number): string => NAMES[e] ?? `errno ${e}`;

/** Throws a SysError when a control-plane call returned < 0. */
export function check(sys: Sys, rc: number, what: string): number {
  if (rc < 0) throw new SysError(what, sys.errno());
  return rc;
}

const scratch = new WeakMap<Sys, { bytes: Uint8Array; addr: number }>();
/** A per-thread 4 KiB scratch area for control-plane structs (ifreq, paths, sockaddr). */
export function scratchOf(sys: Sys): { bytes: Uint8Array; addr: number } {
  let s = scratch.get(sys);
  if (s === undefined) {
    s = sys.alloc(4096);
    scratch.set(sys, s);
  }
  return s;
}

/** Writes `s` NUL-terminated at scratch offset `off`; returns its address. */
export function cstr(sys: Sys, s: string, off = 2048): number {
  const m = scratchOf(sys);
  const enc = new TextEncoder().encode(s);
  if (enc.length + 1 > 4096 - off) throw new Error(`Path too long: "${s}"`);
  m.bytes.set(enc, off);
  m.bytes[off + enc.length] = 0;
  return m.addr + off;
}
