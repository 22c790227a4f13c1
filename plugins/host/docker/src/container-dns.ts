/**
 * Weft's names inside Docker containers, from one responder in the agent (no process per
 * container): a worker thread (dns-worker.ts) opens a UDP socket on ADDRESS:53 inside each
 * container's network namespace (setns on that thread only) and waits on all of them; this side
 * answers each query with Weft's resolver (`dns.resolve`: the network's names, its service VIPs,
 * `tasks.NAME`, then the host's upstreams) and hands the reply back. Docker's embedded DNS
 * forwards the names it does not know to ADDRESS when the container runs with `--dns ADDRESS`
 * (127.0.0.53 by default).
 *
 * Docker makes a container's namespace (bind-mounted at its SandboxKey) only after Join, when
 * runc starts it: `add` waits for it (≤ 60 s) and retries while the loopback is not up yet; a
 * container whose SandboxKey is gone is forgotten.
 */
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { EFD_CLOEXEC, EFD_NONBLOCK, loadSys, workerSource } from '@weft/sys';
import type { Logger } from '@weft/kernel';

/** Answers one DNS query asked on a Weft network (undefined: no reply). */
export type DnsAnswer = (network: string, query: Uint8Array) => Promise<Uint8Array | undefined>;

export interface ContainerDns {
  /** Serves the container whose namespace is (or will be) at `sandboxKey`, on Weft network `network`. */
  add(key: string, sandboxKey: string, network: string): void;
  remove(key: string): void;
  /** Containers served now (their socket is open). */
  served(): readonly string[];
  close(): Promise<void>;
}

export async function createContainerDns(o: { readonly address: string; readonly answer: DnsAnswer; readonly log: Logger }): Promise<ContainerDns> {
  const sys = await loadSys();
  const wakeFd = sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakeFd < 0) throw new Error(`docker: eventfd failed (errno ${sys.errno()})`);
  const one = sys.alloc(8);
  new DataView(one.bytes.buffer, one.bytes.byteOffset).setBigUint64(0, 1n, true);
  const { port1, port2 } = new MessageChannel();
  const src = workerSource(new URL('./dns-worker.ts', import.meta.url));
  const data = { port: port2, wakeFd, address: o.address };
  const worker = 'code' in src ? new Worker(src.code, { eval: true, workerData: data, transferList: [port2] as never }) : new Worker(src.url, { workerData: data, transferList: [port2] as never });
  worker.unref();
  const send = (m: unknown) => {
    port1.postMessage(m);
    sys.write(wakeFd, one.addr, 8);
  };
  /** Containers asked for: key → where, and the timer of a pending (re)try. */
  const wanted = new Map<string, { sandboxKey: string; network: string; tries: number; timer?: ReturnType<typeof setTimeout> }>();
  const open = new Set<string>();
  let closed = false;

  const tryAdd = (key: string) => {
    const w = wanted.get(key);
    if (w === undefined || closed) return;
    delete w.timer;
    if (!fs.existsSync(w.sandboxKey)) {
      // The container has not started yet (or is gone): wait for its namespace, 60 s at most.
      if (w.tries++ < 600) w.timer = setTimeout(() => tryAdd(key), 100);
      else wanted.delete(key);
      return;
    }
    send({ t: 'add', key, sandboxKey: w.sandboxKey, network: w.network });
  };

  await new Promise<void>((resolve, reject) => {
    const onMessage = (m: { t: string; key?: string; errno?: number; error?: string; network?: string; to?: Uint8Array; bytes?: Uint8Array }) => {
      if (m.t === 'ready') return resolve();
      const key = m.key ?? '';
      if (m.t === 'added') {
        if (wanted.has(key)) open.add(key);
        else send({ t: 'remove', key });
      } else if (m.t === 'failed') {
        open.delete(key);
        const w = wanted.get(key);
        // EADDRNOTAVAIL (99): the container's loopback is not up yet; ENOENT: namespace not there yet.
        if (w !== undefined && w.tries++ < 600 && (m.errno === 99 || m.errno === 2)) w.timer = setTimeout(() => tryAdd(key), 100);
        else if (w !== undefined) {
          wanted.delete(key);
          o.log.warn('docker: cannot answer DNS inside a container', { endpoint: key, error: m.error });
        }
      } else if (m.t === 'query' && m.bytes !== undefined && m.to !== undefined) {
        const to = m.to;
        o.answer(m.network ?? '', m.bytes).then(
          (r) => {
            if (r !== undefined && open.has(key)) send({ t: 'reply', key, to, bytes: r });
          },
          () => {},
        );
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.once('exit', (c) => {
      if (!closed) o.log.warn('docker: the containers\' DNS thread exited', { code: c });
      reject(new Error(`docker: the containers' DNS thread exited with code ${c} before it was ready`));
    });
  });

  // A container that is gone (its SandboxKey unmounted) is forgotten, as the relay it replaces did.
  const sweep = setInterval(() => {
    for (const [key, w] of wanted) {
      if (open.has(key) && !fs.existsSync(w.sandboxKey)) {
        wanted.delete(key);
        open.delete(key);
        send({ t: 'remove', key });
      }
    }
  }, 2000);
  sweep.unref();

  return {
    add(key, sandboxKey, network) {
      const prev = wanted.get(key);
      if (prev?.timer !== undefined) clearTimeout(prev.timer);
      wanted.set(key, { sandboxKey, network, tries: 0 });
      tryAdd(key);
    },
    remove(key) {
      const w = wanted.get(key);
      if (w?.timer !== undefined) clearTimeout(w.timer);
      wanted.delete(key);
      open.delete(key);
      send({ t: 'remove', key });
    },
    served: () => [...open],
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      for (const w of wanted.values()) if (w.timer !== undefined) clearTimeout(w.timer);
      const done = new Promise<void>((r) => worker.once('exit', () => r()));
      send({ t: 'stop' });
      await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
      await worker.terminate().catch(() => 0);
      port1.close();
      sys.close(wakeFd);
    },
  };
}
