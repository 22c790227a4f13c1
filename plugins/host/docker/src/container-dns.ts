/**
 * Weft's names inside Docker containers, from one responder in the agent (no process per
 * container): @weft/sys's namespace listeners open a UDP and a TCP socket on ADDRESS:53 inside
 * each container's network namespace (from one thread that enters it), and each query is
 * answered with Weft's resolver (`dns.resolve`: the network's names, its service VIPs,
 * `tasks.NAME`, then the host's upstreams). Docker's embedded DNS forwards the names it does not
 * know to ADDRESS when the container runs with `--dns ADDRESS` (127.0.0.53 by default).
 *
 * Docker makes a container's namespace (bind-mounted at its SandboxKey) only after Join, when
 * runc starts it: `add` waits for it (≤ 60 s) and retries while the loopback is not up yet; a
 * container whose SandboxKey is gone is forgotten.
 */
import * as fs from 'node:fs';
import { createNsListeners } from '@weft/sys';
import type { Logger } from '@weft/kernel';

/** Answers one DNS query asked on a Weft network (undefined: no reply). */
export type DnsAnswer = (network: string, query: Uint8Array) => Promise<Uint8Array | undefined>;

export interface ContainerDns {
  /** Serves the container whose namespace is (or will be) at `sandboxKey`, on Weft network `network`. */
  add(key: string, sandboxKey: string, network: string): void;
  remove(key: string): void;
  /** Containers served now (their sockets are open). */
  served(): readonly string[];
  close(): Promise<void>;
}

/** Tries per container while its namespace or loopback is not there yet: 60 s at 100 ms. */
const TRIES = 600;

export async function createContainerDns(o: { readonly address: string; readonly answer: DnsAnswer; readonly log: Logger }): Promise<ContainerDns> {
  const listeners = createNsListeners({ warn: (m, f) => o.log.warn(`docker: ${m}`, f) });
  /** Containers asked for: key → where, and the timer of a pending (re)try. */
  const wanted = new Map<string, { sandboxKey: string; network: string; tries: number; timer?: ReturnType<typeof setTimeout> }>();
  const open = new Set<string>();
  let closed = false;

  const retry = (key: string): void => {
    const w = wanted.get(key);
    if (w === undefined || closed) return;
    if (w.tries++ < TRIES) w.timer = setTimeout(() => tryAdd(key), 100);
    else wanted.delete(key);
  };

  const tryAdd = (key: string): void => {
    const w = wanted.get(key);
    if (w === undefined || closed) return;
    delete w.timer;
    // The container has not started yet (or is gone): wait for its namespace.
    if (!fs.existsSync(w.sandboxKey)) return retry(key);
    const network = w.network;
    listeners.listen(key, { ns: w.sandboxKey, addrs: [o.address], port: 53, tcp: true }, (m, reply) => {
      o.answer(network, m.bytes).then((r) => {
        if (r !== undefined && open.has(key)) reply(r);
      }, () => {});
    }).then(
      () => {
        if (wanted.get(key) === w) open.add(key);
        else listeners.close(key);
      },
      (e: Error & { code?: string }) => {
        open.delete(key);
        // EADDRNOTAVAIL: the container's loopback is not up yet; ENOENT: its namespace not yet.
        if (wanted.get(key) === w && (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOENT') && w.tries < TRIES) return retry(key);
        if (wanted.get(key) === w) {
          wanted.delete(key);
          o.log.warn('docker: cannot answer DNS inside a container', { endpoint: key, error: e.message });
        }
      },
    );
  };

  // A container that is gone (its SandboxKey unmounted) is forgotten.
  const sweep = setInterval(() => {
    for (const [key, w] of wanted) {
      if (open.has(key) && !fs.existsSync(w.sandboxKey)) {
        wanted.delete(key);
        open.delete(key);
        listeners.close(key);
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
      listeners.close(key);
    },
    served: () => [...open],
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      for (const w of wanted.values()) if (w.timer !== undefined) clearTimeout(w.timer);
      await listeners.stop();
    },
  };
}
