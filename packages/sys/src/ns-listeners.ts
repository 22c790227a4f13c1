/**
 * Listeners inside other network namespaces, served from one thread of this process: UDP, and
 * TCP with RFC 1035 §4.2.2 framing (a two-byte length before each message), on addresses that
 * exist only in those namespaces (the gateway of a network's bridge). What the embedded DNS of
 * the kernel data path needs: the sandboxes reach a resolver there without a userspace switch.
 *
 * Why a thread of its own (ns-listeners-worker.ts): a socket belongs to the namespace of the
 * thread that creates it, and runtimes create sockets later than the call that asks for one
 * (Deno binds on a later turn of its event loop), so switching the agent's main thread around
 * the call would put sockets in the wrong namespace, the main thread's own included. Adopting a
 * socket made by FFI by descriptor (`bind({ fd })`) works on Node and Bun but not on Deno
 * (ERR_INVALID_FD_TYPE). The thread works on all three.
 */
import { Worker } from 'node:worker_threads';
import { workerSource } from './runtime.ts';

/** One message received by a listener. */
export interface NsMessage {
  readonly transport: 'udp' | 'tcp';
  /** The sender's address (IPv4-mapped addresses unwrapped) and port. */
  readonly from: string;
  readonly port: number;
  readonly bytes: Uint8Array;
}

/** Answers one message: `reply` sends bytes back on the socket or connection it came from (at most once, within 10 s). */
export type NsHandler = (m: NsMessage, reply: (bytes: Uint8Array) => void) => void;

export interface NsListenOptions {
  /** A namespace name under /run/netns, or a path to one. */
  readonly ns: string;
  /** Addresses to listen on (IPv4 or IPv6); they must exist in the namespace. */
  readonly addrs: readonly string[];
  readonly port: number;
  /** Also listen on TCP, with two-byte length framing. */
  readonly tcp: boolean;
}

export interface NsListeners {
  /**
   * Listens under `key` (replacing what it had); resolves once every socket is bound, rejects
   * with the reason otherwise (then none is left open): the error's `code` is the errno's name
   * (`EADDRNOTAVAIL`: an address the namespace lacks; `ENOENT`: no such namespace).
   */
  listen(key: string, o: NsListenOptions, handler: NsHandler): Promise<void>;
  /** Closes the sockets of `key`. */
  close(key: string): void;
  /** Closes everything and ends the thread. */
  stop(): Promise<void>;
}

type Out =
  | { t: 'ready' }
  | { t: 'opened'; req: number }
  | { t: 'failed'; req: number; error: string; code: string }
  | { t: 'message'; key: string; id: number; transport: 'udp' | 'tcp'; from: string; port: number; bytes: Uint8Array }
  | { t: 'warn'; key: string; error: string };

/** Starts the thread on first use; `warn` hears socket errors after listening and the thread's end. */
export function createNsListeners(o: { readonly warn?: (message: string, fields: Record<string, unknown>) => void } = {}): NsListeners {
  const handlers = new Map<string, NsHandler>();
  const waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let req = 0;
  let worker: Worker | undefined;
  let started: Promise<Worker> | undefined;
  let stopping = false;
  /** The thread keeps the process alive only while an opening is awaited (as a socket would). */
  const refresh = () => (waiting.size > 0 ? worker?.ref() : worker?.unref());

  const start = (): Promise<Worker> =>
    (started ??= new Promise<Worker>((resolve, reject) => {
      const src = workerSource(new URL('./ns-listeners-worker.ts', import.meta.url));
      const w = 'code' in src ? new Worker(src.code, { eval: true }) : new Worker(src.url);
      w.on('message', (m: Out) => {
        switch (m.t) {
          case 'ready':
            worker = w;
            refresh();
            resolve(w);
            break;
          case 'opened':
            waiting.get(m.req)?.resolve();
            waiting.delete(m.req);
            refresh();
            break;
          case 'failed': {
            const e = Object.assign(new Error(m.error), m.code !== '' ? { code: m.code } : {});
            waiting.get(m.req)?.reject(e);
            waiting.delete(m.req);
            refresh();
            break;
          }
          case 'message': {
            const h = handlers.get(m.key);
            if (h === undefined) break;
            let done = false;
            h({ transport: m.transport, from: m.from, port: m.port, bytes: m.bytes }, (bytes) => {
              if (done || worker !== w) return;
              done = true;
              w.postMessage({ t: 'reply', id: m.id, bytes });
            });
            break;
          }
          case 'warn':
            o.warn?.('listener in a network namespace', { key: m.key, error: m.error });
            break;
        }
      });
      w.once('error', (e) => {
        o.warn?.("the namespace listeners' thread failed", { error: String(e) });
        reject(e);
      });
      w.once('exit', (code) => {
        // Its sockets went with it: every key must be listened again.
        if (!stopping) o.warn?.("the namespace listeners' thread exited; their sockets are closed", { code, keys: [...handlers.keys()] });
        for (const x of waiting.values()) x.reject(new Error(`the namespace listeners' thread exited (code ${code})`));
        waiting.clear();
        handlers.clear();
        if (worker === w) worker = undefined;
        started = undefined;
        reject(new Error(`the namespace listeners' thread exited (code ${code}) before it was ready`));
      });
    }));

  return {
    async listen(key, opts, handler) {
      if (stopping) throw new Error('namespace listeners are stopped');
      const w = await start();
      const id = ++req;
      handlers.set(key, handler);
      try {
        await new Promise<void>((resolve, reject) => {
          waiting.set(id, { resolve, reject });
          w.ref();
          w.postMessage({ t: 'open', req: id, key, ns: opts.ns, addrs: [...opts.addrs], port: opts.port, tcp: opts.tcp });
        });
      } catch (e) {
        if (handlers.get(key) === handler) handlers.delete(key);
        throw e;
      }
    },
    close(key) {
      handlers.delete(key);
      worker?.postMessage({ t: 'close', key });
    },
    async stop() {
      stopping = true;
      const w = worker;
      if (w === undefined) return;
      const gone = new Promise<void>((r) => w.once('exit', () => r()));
      w.postMessage({ t: 'stop' });
      w.ref();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 1000)))]);
      clearTimeout(timer);
      await w.terminate().catch(() => 0);
    },
  };
}
