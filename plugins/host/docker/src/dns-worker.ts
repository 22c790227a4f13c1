/**
 * The thread of the containers' DNS responder (container-dns.ts). setns(2) switches only the
 * calling thread, so this thread enters each container's network namespace just long enough to
 * open a UDP socket on ADDRESS:53 there (`withNetns`), then waits on all of them with one epoll.
 * Queries go to the main thread (which asks Weft's resolver); replies come back and are sent from
 * the container's socket. One thread for every container, no process per container.
 *
 * Messages in (on `port`): {t:'add', key, sandboxKey, network} | {t:'remove', key} |
 * {t:'reply', key, to, bytes} | {t:'stop'}; the main thread writes the eventfd after each, so a
 * wait ends at once. Out: {t:'ready'} | {t:'added', key} | {t:'failed', key, errno, error} |
 * {t:'query', key, network, to, bytes}.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import {
  EAGAIN, EPOLLIN, EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_DATA_OFFSET, EPOLL_EVENT_SIZE, SIZEOF_SOCKADDR_IN, SysError, check, loadSys, udpSocket, withNetns,
} from '@weft/sys';

interface Init {
  readonly port: MessagePort;
  readonly wakeFd: number;
  readonly address: string;
}
type In =
  | { t: 'add'; key: string; sandboxKey: string; network: string }
  | { t: 'remove'; key: string }
  | { t: 'reply'; key: string; to: Uint8Array; bytes: Uint8Array }
  | { t: 'stop' };

const init = workerData as Init;
const sys = await loadSys();
const port = init.port;
const ep = check(sys, sys.epoll_create1(EPOLL_CLOEXEC), 'epoll_create1');
const MAX_EVENTS = 64;
const events = sys.alloc(EPOLL_EVENT_SIZE * MAX_EVENTS);
const ev = sys.alloc(EPOLL_EVENT_SIZE);
const buf = sys.alloc(65536);
const from = sys.alloc(SIZEOF_SOCKADDR_IN + 16);
const fromLen = sys.alloc(8);
const evView = new DataView(events.bytes.buffer, events.bytes.byteOffset, events.bytes.byteLength);
const bySock = new Map<number, { key: string; network: string }>();
const byKey = new Map<string, number>();

function watch(fd: number): void {
  ev.bytes.fill(0);
  const v = new DataView(ev.bytes.buffer, ev.bytes.byteOffset, ev.bytes.byteLength);
  v.setUint32(0, EPOLLIN, true);
  v.setInt32(EPOLL_DATA_OFFSET, fd, true);
  check(sys, sys.epoll_ctl(ep, EPOLL_CTL_ADD, fd, ev.addr), 'epoll_ctl ADD');
}

function close(key: string): void {
  const fd = byKey.get(key);
  if (fd === undefined) return;
  sys.epoll_ctl(ep, EPOLL_CTL_DEL, fd, ev.addr);
  sys.close(fd);
  byKey.delete(key);
  bySock.delete(fd);
}

function handle(m: In): boolean {
  switch (m.t) {
    case 'add': {
      close(m.key);
      try {
        const fd = withNetns(sys, m.sandboxKey, () => udpSocket(sys, { addr: init.address, port: 53, nonblock: true }));
        watch(fd);
        byKey.set(m.key, fd);
        bySock.set(fd, { key: m.key, network: m.network });
        parentPort!.postMessage({ t: 'added', key: m.key });
      } catch (e) {
        parentPort!.postMessage({ t: 'failed', key: m.key, errno: e instanceof SysError ? e.errno : 0, error: String((e as Error)?.message ?? e) });
      }
      return true;
    }
    case 'remove':
      close(m.key);
      return true;
    case 'reply': {
      const fd = byKey.get(m.key);
      if (fd === undefined || m.bytes.length > buf.bytes.length) return true;
      buf.bytes.set(m.bytes, 0);
      from.bytes.set(m.to, 0);
      sys.sendto(fd, buf.addr, m.bytes.length, 0, from.addr, m.to.length);
      return true;
    }
    case 'stop':
      for (const k of [...byKey.keys()]) close(k);
      return false;
  }
}

function readAll(fd: number): void {
  const s = bySock.get(fd);
  if (s === undefined) return;
  for (let i = 0; i < 64; i++) {
    new DataView(fromLen.bytes.buffer, fromLen.bytes.byteOffset).setUint32(0, SIZEOF_SOCKADDR_IN + 16, true);
    const n = sys.recvfrom(fd, buf.addr, buf.bytes.length, 0, from.addr, fromLen.addr);
    if (n < 0) {
      if (sys.errno() !== EAGAIN) parentPort!.postMessage({ t: 'failed', key: s.key, errno: sys.errno(), error: `recvfrom failed (errno ${sys.errno()})` });
      return;
    }
    const alen = new DataView(fromLen.bytes.buffer, fromLen.bytes.byteOffset).getUint32(0, true);
    parentPort!.postMessage({ t: 'query', key: s.key, network: s.network, to: from.bytes.slice(0, Math.min(alen, SIZEOF_SOCKADDR_IN + 16)), bytes: buf.bytes.slice(0, n) });
  }
}

watch(init.wakeFd);
parentPort!.postMessage({ t: 'ready' });
let running = true;
while (running) {
  const n = sys.epoll_wait(ep, events.addr, MAX_EVENTS, 1000);
  for (let i = 0; i < n; i++) {
    const fd = evView.getInt32(i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET, true);
    if (fd === init.wakeFd) sys.read(init.wakeFd, buf.addr, 8);
    else readAll(fd);
  }
  for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
    if (!handle(m.message as In)) running = false;
  }
}
sys.close(ep);
port.close();
