/**
 * The thread behind ns-listeners.ts. setns(2) switches only the calling thread, and a runtime may
 * create a socket later than the call that asks for it (Deno binds on a later turn of its event
 * loop), so this thread enters a namespace, opens the listeners, waits until every one of them is
 * bound (`listening`), and only then switches back. Openings run one at a time; while one waits,
 * the listeners opened before keep serving (receiving and sending on a bound socket stays in the
 * namespace it was made in). Each message goes to the main thread with an id; its reply comes
 * back with that id.
 *
 * In: {t:'open', req, key, ns, addrs, port, tcp} | {t:'close', key} | {t:'reply', id, bytes} | {t:'stop'}.
 * Out: {t:'ready'} | {t:'opened', req} | {t:'failed', req, error, code} | {t:'message', key, id,
 * transport, from, port, bytes} | {t:'warn', key, error}.
 */
import * as dgram from 'node:dgram';
import type { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { parentPort } from 'node:worker_threads';
import { check, cstr, errnoName, loadSys, SysError } from './host.ts';
import { netnsPath } from './netns.ts';
import { CLONE_NEWNET, O_CLOEXEC, O_RDONLY } from './types.ts';

type In =
  | { t: 'open'; req: number; key: string; ns: string; addrs: readonly string[]; port: number; tcp: boolean }
  | { t: 'close'; key: string }
  | { t: 'reply'; id: number; bytes: Uint8Array }
  | { t: 'stop' };

/** Replies not given within this long are forgotten (a query the main thread dropped). */
const REPLY_TTL_MS = 10_000;
/** A TCP connection idle this long is closed (RFC 7766 §6.2.3 suggests seconds). */
const TCP_IDLE_MS = 10_000;
/** The most one TCP connection may buffer before its message is complete (DNS messages are ≤ 64 KiB). */
const TCP_MAX_BUFFER = 2 + 65535;

const port = parentPort!;
const sys = await loadSys();
const home = check(sys, sys.open(cstr(sys, '/proc/thread-self/ns/net'), O_RDONLY | O_CLOEXEC), 'open /proc/thread-self/ns/net');
const listeners = new Map<string, (() => void)[]>();
const pending = new Map<number, { readonly send: (b: Uint8Array) => void; readonly at: number }>();
let nextId = 1;
let queue: Promise<void> = Promise.resolve();

function deliver(key: string, transport: 'udp' | 'tcp', from: string, fromPort: number, bytes: Uint8Array, send: (b: Uint8Array) => void): void {
  const id = nextId++;
  pending.set(id, { send, at: Date.now() });
  port.postMessage({ t: 'message', key, id, transport, from: from.replace(/^::ffff:/, ''), port: fromPort, bytes: new Uint8Array(bytes) });
}

/** Resolves once `start` made `e` listen; rejects with its error. */
function listening(e: EventEmitter, start: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = () => {
      e.removeListener('error', fail);
      resolve();
    };
    const fail = (err: Error) => {
      e.removeListener('listening', ok);
      reject(err);
    };
    e.once('listening', ok);
    e.once('error', fail);
    start();
  });
}

function tcpServer(key: string): net.Server {
  return net.createServer((c) => {
    let buf: Buffer = Buffer.alloc(0);
    c.setTimeout(TCP_IDLE_MS, () => c.destroy());
    c.on('error', () => c.destroy());
    c.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      if (buf.length > TCP_MAX_BUFFER + 2) return void c.destroy();
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        deliver(key, 'tcp', c.remoteAddress ?? '', c.remotePort ?? 0, msg, (r) => {
          if (c.destroyed || r.length > 65535) return;
          const h = Buffer.alloc(2);
          h.writeUInt16BE(r.length);
          c.write(Buffer.concat([h, r]));
        });
      }
    });
  });
}

async function open(m: Extract<In, { t: 'open' }>): Promise<void> {
  close(m.key);
  const closers: (() => void)[] = [];
  const target = check(sys, sys.open(cstr(sys, netnsPath(m.ns)), O_RDONLY | O_CLOEXEC), `open network namespace "${m.ns}"`);
  try {
    check(sys, sys.setns(target, CLONE_NEWNET), `setns "${m.ns}"`);
  } finally {
    sys.close(target);
  }
  try {
    for (const addr of m.addrs) {
      const u = dgram.createSocket({ type: addr.includes(':') ? 'udp6' : 'udp4' });
      closers.push(() => u.close());
      await listening(u, () => u.bind({ address: addr, port: m.port, exclusive: true }));
      u.on('error', (e) => port.postMessage({ t: 'warn', key: m.key, error: `udp ${addr}:${m.port}: ${String(e)}` }));
      u.on('message', (b, r) => deliver(m.key, 'udp', r.address, r.port, b, (out) => u.send(out, r.port, r.address)));
      if (m.tcp) {
        const srv = tcpServer(m.key);
        closers.push(() => srv.close());
        await listening(srv, () => srv.listen({ host: addr, port: m.port, exclusive: true }));
        srv.on('error', (e) => port.postMessage({ t: 'warn', key: m.key, error: `tcp ${addr}:${m.port}: ${String(e)}` }));
      }
    }
  } catch (e) {
    for (const c of closers) {
      try {
        c();
      } catch {
        /* not open */
      }
    }
    throw e;
  } finally {
    // Never stay in another namespace: every later opening would land there.
    if (sys.setns(home, CLONE_NEWNET) !== 0) {
      port.postMessage({ t: 'warn', key: m.key, error: `setns back failed (errno ${sys.errno()}): the listeners' thread stops` });
      process.exit(71);
    }
  }
  listeners.set(m.key, closers);
}

function close(key: string): void {
  for (const c of listeners.get(key) ?? []) {
    try {
      c();
    } catch {
      /* already closed */
    }
  }
  listeners.delete(key);
}

const sweep = setInterval(() => {
  const old = Date.now() - REPLY_TTL_MS;
  for (const [id, p] of pending) if (p.at < old) pending.delete(id);
}, REPLY_TTL_MS);

port.on('message', (m: In) => {
  switch (m.t) {
    case 'open':
      queue = queue.then(() =>
        open(m).then(
          () => port.postMessage({ t: 'opened', req: m.req }),
          (e: Error & { code?: string; errno?: number }) =>
            port.postMessage({ t: 'failed', req: m.req, error: String(e?.message ?? e), code: e?.code ?? (e instanceof SysError ? errnoName(e.errno) : '') }),
        ));
      break;
    case 'close':
      queue = queue.then(() => close(m.key));
      break;
    case 'reply': {
      const p = pending.get(m.id);
      pending.delete(m.id);
      p?.send(m.bytes);
      break;
    }
    case 'stop':
      queue = queue.then(() => {
        for (const k of [...listeners.keys()]) close(k);
        clearInterval(sweep);
        // The main thread terminates the thread next (Deno's parentPort has no close()).
      });
      break;
  }
});
port.postMessage({ t: 'ready' });
