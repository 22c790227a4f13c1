/** Node adapter of `Sys`: koffi over libc. Safe to load in every worker thread (one handle each). */
import koffi from 'koffi';
import type { Mem, Sys } from './types.ts';

export function createNodeSys(): Sys {
  const lc = koffi.load('libc.so.6');
  // Buffers are addresses (intptr_t) of pinned memory so that they can also sit in iovec/mmsghdr.
  const f = (proto: string) => lc.func(proto) as (...a: number[]) => number;
  const open = f('int open(intptr_t, int)');
  const close = f('int close(int)');
  const ioctl = f('int ioctl(int, unsigned long, intptr_t)');
  const read = f('intptr_t read(int, intptr_t, size_t)');
  const write = f('intptr_t write(int, intptr_t, size_t)');
  const readv = f('intptr_t readv(int, intptr_t, int)');
  const writev = f('intptr_t writev(int, intptr_t, int)');
  const poll = f('int poll(intptr_t, unsigned long, int)');
  const ppoll = f('int ppoll(intptr_t, unsigned long, intptr_t, intptr_t)');
  const eventfd = f('int eventfd(unsigned int, int)');
  const epoll_create1 = f('int epoll_create1(int)');
  const epoll_ctl = f('int epoll_ctl(int, int, int, intptr_t)');
  const epoll_wait = f('int epoll_wait(int, intptr_t, int, int)');
  const setns = f('int setns(int, int)');
  const socket = f('int socket(int, int, int)');
  const bind = f('int bind(int, intptr_t, uint32_t)');
  const setsockopt = f('int setsockopt(int, int, int, intptr_t, uint32_t)');
  const getsockopt = f('int getsockopt(int, int, int, intptr_t, intptr_t)');
  const sendto = f('intptr_t sendto(int, intptr_t, size_t, int, intptr_t, uint32_t)');
  const recvfrom = f('intptr_t recvfrom(int, intptr_t, size_t, int, intptr_t, intptr_t)');
  const sendmsg = f('intptr_t sendmsg(int, intptr_t, int)');
  const recvmsg = f('intptr_t recvmsg(int, intptr_t, int)');
  const sendmmsg = f('int sendmmsg(int, intptr_t, unsigned int, int)');
  const recvmmsg = f('int recvmmsg(int, intptr_t, unsigned int, int, intptr_t)');
  const fcntl = f('int fcntl(int, int, int)');
  const gettid = f('int gettid()');
  const setpriority = f('int setpriority(int, uint32_t, int)');
  const sched_yield = f('int sched_yield()');
  return {
    runtime: 'node',
    alloc(len: number): Mem {
      const p = koffi.alloc('uint8', len);
      const bytes = new Uint8Array(koffi.view(p, len));
      bytes.fill(0);
      return { bytes, addr: Number(koffi.address(p)) };
    },
    errno: () => koffi.errno(),
    open, close, ioctl, read, write, readv, writev, poll, ppoll, eventfd, epoll_create1, epoll_ctl, epoll_wait, setns, socket, bind, setsockopt, getsockopt,
    sendto, recvfrom, sendmsg, recvmsg, sendmmsg, recvmmsg, fcntl, gettid, setpriority, sched_yield,
  };
}
