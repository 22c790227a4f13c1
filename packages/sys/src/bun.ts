/**
 * Bun adapter of `Sys`: the same libc symbols through `bun:ffi` (the runtime of the single-file
 * `weft-agent`, see tools/binaries). Pointers are plain numbers in bun:ffi; 64-bit sizes use the
 * `*_fast` types, which come back as numbers while they fit. `errno` is read through
 * `__errno_location()` right after the failing call, on the same thread (like the Deno adapter).
 */
import type { Mem, Sys } from './types.ts';

type Fn = (...a: number[]) => number;
interface BunFfi {
  dlopen(path: string, symbols: Record<string, { args: string[]; returns: string }>): { symbols: Record<string, Fn> };
  toArrayBuffer(ptr: number, byteOffset: number, byteLength: number): ArrayBuffer;
}

/** `bun:ffi`, loaded with a variable specifier so Node, Deno and tsc never try to resolve it. */
export async function createBunSys(): Promise<Sys> {
  const specifier = 'bun:ffi';
  const ffi = (await import(specifier)) as BunFfi;
  const i = 'i32';
  const p = 'ptr';
  const u = 'u64_fast';
  const z = 'i64_fast';
  const lib = ffi.dlopen('libc.so.6', {
    open: { args: [p, i], returns: i },
    close: { args: [i], returns: i },
    ioctl: { args: [i, u, p], returns: i },
    read: { args: [i, p, u], returns: z },
    write: { args: [i, p, u], returns: z },
    readv: { args: [i, p, i], returns: z },
    writev: { args: [i, p, i], returns: z },
    poll: { args: [p, u, i], returns: i },
    ppoll: { args: [p, u, p, p], returns: i },
    eventfd: { args: ['u32', i], returns: i },
    epoll_create1: { args: [i], returns: i },
    epoll_ctl: { args: [i, i, i, p], returns: i },
    epoll_wait: { args: [i, p, i, i], returns: i },
    setns: { args: [i, i], returns: i },
    socket: { args: [i, i, i], returns: i },
    bind: { args: [i, p, 'u32'], returns: i },
    setsockopt: { args: [i, i, i, p, 'u32'], returns: i },
    getsockopt: { args: [i, i, i, p, p], returns: i },
    sendto: { args: [i, p, u, i, p, 'u32'], returns: z },
    recvfrom: { args: [i, p, u, i, p, p], returns: z },
    sendmsg: { args: [i, p, i], returns: z },
    recvmsg: { args: [i, p, i], returns: z },
    sendmmsg: { args: [i, p, 'u32', i], returns: i },
    recvmmsg: { args: [i, p, 'u32', i, p], returns: i },
    fcntl: { args: [i, i, i], returns: i },
    gettid: { args: [], returns: i },
    setpriority: { args: [i, 'u32', i], returns: i },
    sched_yield: { args: [], returns: i },
    malloc: { args: [u], returns: p },
    __errno_location: { args: [], returns: p },
  }).symbols;
  const g = (n: string): Fn => {
    const fn = lib[n];
    if (fn === undefined) throw new Error(`libc symbol "${n}" missing`);
    return fn;
  };
  // Results are numbers already (i32, i64_fast); bun:ffi takes 0 as the null pointer.
  const w = (fn: Fn): Fn => fn;
  const errView = new Int32Array(ffi.toArrayBuffer(Number(g('__errno_location')()), 0, 4));
  return {
    runtime: 'bun',
    alloc(len: number): Mem {
      const addr = Number(g('malloc')(len));
      if (addr === 0) throw new Error(`malloc(${len}) failed`);
      const bytes = new Uint8Array(ffi.toArrayBuffer(addr, 0, len));
      bytes.fill(0);
      return { bytes, addr };
    },
    errno: () => errView[0] ?? 0,
    open: w(g('open')), close: w(g('close')), ioctl: w(g('ioctl')), read: w(g('read')), write: w(g('write')),
    readv: w(g('readv')), writev: w(g('writev')), poll: w(g('poll')), ppoll: w(g('ppoll')),
    eventfd: w(g('eventfd')), epoll_create1: w(g('epoll_create1')), epoll_ctl: w(g('epoll_ctl')), epoll_wait: w(g('epoll_wait')), setns: w(g('setns')), socket: w(g('socket')),
    bind: w(g('bind')), setsockopt: w(g('setsockopt')), getsockopt: w(g('getsockopt')), sendto: w(g('sendto')),
    recvfrom: w(g('recvfrom')), sendmsg: w(g('sendmsg')), recvmsg: w(g('recvmsg')), sendmmsg: w(g('sendmmsg')),
    recvmmsg: w(g('recvmmsg')), fcntl: w(g('fcntl')), gettid: w(g('gettid')), setpriority: w(g('setpriority')), sched_yield: w(g('sched_yield')),
  };
}
