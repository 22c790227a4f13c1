/**
 * The routing mesh (published ports, mode ingress, TCP and UDP): every node answers a service's
 * published port and forwards each connection (UDP: each client's session) to one of the
 * service's tasks, round robin.
 *
 * The agent's namespace is not on the overlay, so each node runs, per service with published
 * ports, a helper sandbox attached to the swarm's `ingress` network (as Docker's ingress_sbox;
 * the service's tasks are attached to it too, after their own networks). Inside it, a small forwarder
 * (plain Node, started as the sandbox's command) accepts on a unix socket per port — unix sockets
 * live in the file system, not in a network namespace — and connects to a task's address on the
 * target port (its address on the ingress network). The agent listens on `0.0.0.0:PUBLISHED` and `[::]:PUBLISHED` (config `publishHost`) in its own namespace and splices each
 * connection into that unix socket. Task addresses come from the network's endpoint table (tasks
 * of the service, as the DNS sees them) and are rewritten into a file the forwarder reads per
 * connection, so removed tasks stop receiving connections at once. The forwarder and the relays
 * are the `ports` service's (the engine provides it; `weft run -p` uses it too).
 */
import * as path from 'node:path';
import * as t from 'io-ts';
import { decodeEndpointRecord, ENDPOINTS_TABLE, type Context, type Engine, type PortForwarding, type Ports, type Tables } from '@weft/kernel';

/** Published ports of one service, written by the manager: key = service ID. */
export const INGRESS_TABLE = 'ingress';
export const IngressEntry = t.type({
  service: t.string,
  /** The ingress network's ID: the helper attaches to it and forwards to the tasks' addresses there. */
  network: t.string,
  ports: t.array(t.intersection([t.type({ published: t.number, target: t.number }), t.partial({ protocol: t.union([t.literal('tcp'), t.literal('udp')]) })])),
});
export type IngressEntry = t.TypeOf<typeof IngressEntry>;

interface Running {
  readonly sandbox: string;
  readonly key: string;
  readonly forwarding: PortForwarding;
}

export interface Ingress {
  reconcile(entries: ReadonlyMap<string, IngressEntry>): Promise<void>;
  close(): Promise<void>;
}

export function createIngress(
  ctx: Context<unknown>,
  engine: () => Engine,
  ports: () => Ports,
  tables: () => Tables,
  dir: string,
  newId: () => string,
  host = '0.0.0.0',
  onError?: (e: { service: string; port: string; error: Error }) => void,
): Ingress {
  const running = new Map<string, Running>();
  const HELPERS = 'node/ingress-helpers';
  let cleaned = false;
  const remember = async () => {
    await ctx.store.put(HELPERS, new TextEncoder().encode(JSON.stringify([...running.values()].map((r) => r.sandbox))));
  };

  async function stop(id: string): Promise<void> {
    const r = running.get(id);
    if (r === undefined) return;
    running.delete(id);
    r.forwarding.close();
    try {
      await engine().removeSandbox(r.sandbox, true);
    } catch {
      /* gone */
    }
    r.forwarding.remove();
    await remember();
  }

  return {
    async reconcile(entries) {
      if (!cleaned) {
        // Helpers of a previous run of this agent: their listeners are gone; start afresh.
        cleaned = true;
        const raw = await ctx.store.get(HELPERS);
        for (const name of raw === undefined ? [] : (JSON.parse(new TextDecoder().decode(raw)) as string[])) {
          try {
            await engine().removeSandbox(name, true);
          } catch {
            /* gone */
          }
        }
        await remember();
      }
      for (const id of [...running.keys()]) {
        const e = entries.get(id);
        if (e === undefined || running.get(id)!.key !== JSON.stringify(e)) await stop(id);
      }
      for (const [id, e] of entries) {
        let r = running.get(id);
        if (r === undefined) {
          const forwarding = ports().forward({ dir: path.join(dir, id.slice(0, 12)), ports: e.ports.map((p) => ({ published: p.published, target: p.target, protocol: p.protocol ?? 'tcp', host })) });
          forwarding.setTargets([]);
          const sandbox = `ingress.${id.slice(0, 8)}.${newId()}`;
          try {
            await engine().createSandbox({ Name: sandbox, Networks: [{ Name: e.network }], Cmd: [...forwarding.command] }, { service: '', slot: 0, endpointMode: 'dnsrr' });
          } catch (err) {
            ctx.log.warn('services: cannot start the routing mesh helper', { service: e.service, error: String((err as Error)?.message ?? err) });
            continue;
          }
          forwarding.listen((p, err) => {
            const port = `${host}:${p.published}/${p.protocol ?? 'tcp'}`;
            ctx.log.warn('services: cannot publish port', { service: e.service, port, error: String(err) });
            onError?.({ service: e.service, port, error: err });
          });
          r = { sandbox, key: JSON.stringify(e), forwarding };
          running.set(id, r);
          await remember();
        }
        const ips: string[] = [];
        for (const x of tables().entries(e.network, ENDPOINTS_TABLE)) {
          const rec = decodeEndpointRecord(x.value);
          // The task's IPv4 address on ingress; its IPv6 one on an IPv6-only ingress network.
          const a = rec?.ipv4 !== '' ? rec?.ipv4 : rec?.ipv6;
          if (rec?.service === e.service && a !== undefined && a !== '') ips.push(a.split('/')[0]!);
        }
        ips.sort();
        if (JSON.stringify(r.forwarding.targets()) !== JSON.stringify(ips)) r.forwarding.setTargets(ips);
      }
    },
    async close() {
      for (const r of running.values()) r.forwarding.close();
    },
  };
}
