/**
 * Deno adapter of `Sys`: the same libc symbols through Deno.dlopen (needs --allow-ffi).
 * `errno` is read through `__errno_location()` right after the failing call, on the same thread.
 */
import type { Mem, Sys } from './types.ts';

type Fn = (...a: (number | bigint | null)[]) => number | bigint;
interface DenoFfi {
  dlopen(path: string, symbols: Record<string, { parameters: string[]; result: string }>): { symbols: Record<string, Fn> };
  UnsafePointer: { create(v: bigint): unknown; value(p: unknown): bigint; of(b: ArrayBufferView): unknown };
  UnsafePointerView: { getArrayBuffer(p: unknown, len: number): ArrayBuffer };
}

export function createDenoSys(): Sys {
  const D = (globalThis as unknown as { Deno: DenoFfi }).Deno;
  const i = 'i32';
  const p = 'isize';
  const u = 'usize';
  const lib = D.dlopen('libc.so.6', {
    open: { parameters: [p, i], result: i },
    close: { parameters: [i], result: i },
    ioctl: { parameters: [i, u, p], result: i },
    read: { parameters: [i, p, u], result: p },
    write: { parameters: [i, p, u], result: p },
    readv: { parameters: [i, p, i], result: p },
    writev: { parameters: [i, p, i], result: p },
    poll: { parameters: [p, u, i], result: i },
    ppoll: { parameters: [p, u, p, p], result: i },
    eventfd: { parameters: ['u32', i], result: i },
    epoll_create1: { parameters: [i], result: i },
    epoll_ctl: { parameters: [i, i, i, p], result: i },
    epoll_wait: { parameters: [i, p, i, i], result: i },
    setns: { parameters: [i, i], result: i },
    socket: { parameters: [i, i, i], result: i },
    bind: { parameters: [i, p, 'u32'], result: i },
    setsockopt: { parameters: [i, i, i, p, 'u32'], result: i },
    getsockopt: { parameters: [i, i, i, p, p], result: i },
    sendto: { parameters: [i, p, u, i, p, 'u32'], result: p },
    recvfrom: { parameters: [i, p, u, i, p, p], result: p },
    sendmsg: { parameters: [i, p, i], result: p },
    recvmsg: { parameters: [i, p, i], result: p },
    sendmmsg: { parameters: [i, p, 'u32', i], result: i },
    recvmmsg: { parameters: [i, p, 'u32', i, p], result: i },
    fcntl: { parameters: [i, i, i], result: i },
    gettid: { parameters: [], result: i },
    setpriority: { parameters: [i, 'u32', i], result: i },
    sched_yield: { parameters: [], result: i },
    malloc: { parameters: [u], result: p },
    __errno_location: { parameters: [], result: p },
  }).symbols;
  // isize/usize parameters accept number|bigint; results come back as number|bigint: normalise.
  const w = (fn: Fn) => (...a: number[]) => Number(fn(...a));
  const s = lib as Record<string, Fn>;
  const g = (n: string): Fn => {
    const fn = s[n];
    if (fn === undefined) throw new Error(`libc symbol "${n}" missing`);
    return fn;
  };
  const errnoAt = Number(g('__errno_location')());
  const errView = new Int32Array(D.UnsafePointerView.getArrayBuffer(D.UnsafePointer.create(BigInt(errnoAt)), 4));
  return {
    runtime: 'deno',
    alloc(len: number): Mem {
      const addr = Number(g('malloc')(len));
      const bytes = new Uint8Array(D.UnsafePointerView.getArrayBuffer(D.UnsafePointer.create(BigInt(addr)), len));
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
