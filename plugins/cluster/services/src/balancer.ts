/**
 * VIP load balancing, the node side. Docker programs IPVS inside each container's namespace;
 * Weft programs kernel NAT inside each sandbox's namespace: for every local sandbox attached to a
 * network that has vip-mode services, a `WEFT-VIP` chain in `-t nat OUTPUT` DNATs each new
 * connection (or UDP flow) to the VIP to one of the service's tasks on that network, picked at
 * random (`-m statistic --mode random --probability 1/(n-i)` per task, the last unconditional),
 * and a `WEFT-VIP` chain in `-t filter OUTPUT` rejects what is still addressed to a VIP after NAT,
 * i.e. a VIP without tasks (TCP reset, ICMP port unreachable otherwise), so clients fail at once
 * instead of hanging.
 *
 * The VIPs come from the cluster table (`_cluster`/`vips`, written by the leader; kept while the
 * leader restarts, see `Retained`); the tasks from
 * the network's endpoint table (records naming the service), so a task whose record goes leaves
 * every node's rules on the next pass (table events trigger one within ~50 ms). Stale records
 * (their node unreachable) are used only when no fresh one is left. Each sandbox's chains are
 * replaced in one `iptables-restore --noflush` (atomic per table); a sandbox is reprogrammed only
 * when its rules change, and every sandbox kind is covered: tasks, routing-mesh helpers and plain
 * `weft run` sandboxes (bare endpoints share one namespace and run nothing: they are skipped). Connections already established keep their task (conntrack).
 *
 * IPv6: a service on a dual-stack network also has an IPv6 VIP (`VipEntry.vips6`); the same chains
 * are written with `ip6tables-restore`, spreading over the tasks' IPv6 addresses on that network
 * (and rejecting with TCP reset / ICMPv6 port unreachable). The two families are applied and
 * retried apart: a host without ip6tables still balances IPv4.
 */
import { execFile } from 'node:child_process';
import { decodeEndpointRecord, ENDPOINTS_TABLE, type Logger, type Tables } from '@weft/kernel';
import type { Sandbox } from '@weft/api';
import type { VipEntry } from './records.ts';

export const VIP_CHAIN = 'WEFT-VIP';

/** Applies rules inside a network namespace (injectable: tests capture them). */
export interface Netfilter {
  /**
   * Feeds `rules` (iptables-restore input for the `WEFT-VIP` chains) to `iptables-restore
   * --noflush` (`family` 6: `ip6tables-restore`) inside the namespace at `netnsPath`; with `hook`,
   * also makes sure `OUTPUT` of the nat and filter tables jumps to `WEFT-VIP` (first time this
   * agent programs the sandbox for that family).
   */
  apply(netnsPath: string, rules: string, hook: boolean, family?: 4 | 6): Promise<void>;
}

export interface VipTargets {
  readonly vip: string;
  readonly targets: readonly string[];
}

/** The restore input for one sandbox and one family: DNAT spread over the targets, reject when there are none. */
export function vipRules(list: readonly VipTargets[], family: 4 | 6 = 4): string {
  const host = family === 4 ? 32 : 128;
  const unreachable = family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable';
  const nat = [`*nat`, `:${VIP_CHAIN} - [0:0]`];
  const filter = [`*filter`, `:${VIP_CHAIN} - [0:0]`];
  for (const { vip, targets } of [...list].sort((a, b) => a.vip.localeCompare(b.vip))) {
    const n = targets.length;
    targets.forEach((t, i) => {
      const left = n - i;
      const pick = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}` : '';
      nat.push(`-A ${VIP_CHAIN} -d ${vip}/${host}${pick} -j DNAT --to-destination ${t}`);
    });
    filter.push(`-A ${VIP_CHAIN} -d ${vip}/${host} -p tcp -j REJECT --reject-with tcp-reset`);
    filter.push(`-A ${VIP_CHAIN} -d ${vip}/${host} -j REJECT --reject-with ${unreachable}`);
  }
  return [...nat, 'COMMIT', ...filter, 'COMMIT', ''].join('\n');
}

const run = (cmd: string, args: readonly string[], input: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const p = execFile(cmd, [...args], { timeout: 10_000 }, (err, _out, stderr) => {
      if (err !== null) reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
    // A child that exits (or fails to start) before reading its input makes the write fail with
    // EPIPE on stdin: the exit status reports the failure; the stream error must not end the agent.
    p.stdin?.on('error', () => undefined);
    p.stdin?.end(input);
  });

/** `nsenter --net=PATH iptables-restore -w --noflush` (`ip6tables-restore` for IPv6; iptables 1.8, legacy or nf_tables backend). */
export function linuxNetfilter(): Netfilter {
  const hookScript = (cmd: string) => `for t in nat filter; do ${cmd} -w -t $t -C OUTPUT -j ${VIP_CHAIN} 2>/dev/null || ${cmd} -w -t $t -I OUTPUT 1 -j ${VIP_CHAIN} || exit 1; done`;
  return {
    async apply(netnsPath, rules, hook, family = 4) {
      const cmd = family === 4 ? 'iptables' : 'ip6tables';
      await run('nsenter', [`--net=${netnsPath}`, `${cmd}-restore`, '-w', '--noflush'], rules);
      if (hook) await run('nsenter', [`--net=${netnsPath}`, 'sh', '-c', hookScript(cmd)], '');
    },
  };
}

/** What the balancer needs of a namespace to program: a sandbox of the engine, or a container (contract `containers`). */
export type BalancedSandbox = Pick<Sandbox, 'Id' | 'Name' | 'NetnsPath'> & { readonly Bare?: boolean; readonly Networks: Readonly<Record<string, { readonly NetworkID?: string }>> };

export interface Balancer {
  /**
   * Programs every local sandbox for `vips` (the services' VIPs, by service ID: the leader's
   * `_cluster`/`vips` entries) and the tasks in the endpoint tables; resolves when done (errors
   * are logged and retried later).
   */
  reconcile(sandboxes: readonly BalancedSandbox[], vips: ReadonlyMap<string, VipEntry>): Promise<void>;
  /** True when there is nothing to do and nothing programmed (the node pass may skip reading sandboxes). */
  idle(vips: ReadonlyMap<string, VipEntry>): boolean;
}

/** After a failed apply, a sandbox is tried again no sooner than this (ms). */
export const RETRY_MS = 2000;

export function createBalancer(tables: () => Tables, netfilter: Netfilter, log: Logger, now: () => number = Date.now): Balancer {
  /** Sandbox ID → the rules last applied to it. */
  const applied = new Map<string, string>();
  /** Sandbox ID → when to try again after a failure. */
  const failing = new Map<string, number>();

  /** Service name → task addresses on `net` of one family (fresh records; stale ones only for a service with no fresh one). */
  function tasksOn(net: string, family: 4 | 6): Map<string, string[]> {
    const fresh = new Map<string, string[]>();
    const stale = new Map<string, string[]>();
    for (const x of tables().entries(net, ENDPOINTS_TABLE)) {
      const r = decodeEndpointRecord(x.value);
      const addr = family === 4 ? r?.ipv4 : r?.ipv6;
      if (r?.service === undefined || r.service === '' || addr === undefined || addr === '') continue;
      const into = x.stale ? stale : fresh;
      into.set(r.service, [...(into.get(r.service) ?? []), addr.split('/')[0]!]);
    }
    return new Map([...stale, ...fresh]);
  }

  /** Network ID → VIP → task addresses of the VIP's family (IPv6 VIPs hold a `:`). */
  function vipMap(entries: ReadonlyMap<string, VipEntry>): Map<string, Map<string, string[]>> {
    const out = new Map<string, Map<string, string[]>>();
    const tasks = new Map<string, Map<string, string[]>>();
    const add = (service: string, net: string, addr: string, family: 4 | 6) => {
      const k = `${family}\u0000${net}`;
      let t = tasks.get(k);
      if (t === undefined) tasks.set(k, (t = tasksOn(net, family)));
      let m = out.get(net);
      if (m === undefined) out.set(net, (m = new Map()));
      m.set(addr.split('/')[0]!, [...new Set(t.get(service) ?? [])].sort());
    };
    for (const v of entries.values()) {
      for (const [net, addr] of Object.entries(v.vips)) add(v.service, net, addr, 4);
      for (const [net, addr] of Object.entries(v.vips6 ?? {})) add(v.service, net, addr, 6);
    }
    return out;
  }

  return {
    idle: (entries) => applied.size === 0 && entries.size === 0,
    async reconcile(sandboxes, entries) {
      const vips = vipMap(entries);
      const seen = new Set<string>();
      const jobs: (() => Promise<void>)[] = [];
      for (const sb of sandboxes) {
        // Bare endpoints share one namespace and run nothing: no client to balance for.
        if (sb.NetnsPath === '' || sb.Bare === true) continue;
        const lists = { 4: [] as VipTargets[], 6: [] as VipTargets[] };
        for (const a of Object.values(sb.Networks)) {
          const m = a.NetworkID === undefined ? undefined : vips.get(a.NetworkID);
          for (const [vip, targets] of m ?? []) lists[vip.includes(':') ? 6 : 4].push({ vip, targets });
        }
        for (const family of [4, 6] as const) {
          // Each family is applied (and retried) on its own: IPv4 under the sandbox's ID, as before.
          const key = family === 4 ? sb.Id : `${sb.Id}#6`;
          seen.add(key);
          const list = lists[family];
          const prev = applied.get(key);
          if (list.length === 0 && prev === undefined) continue;
          const rules = vipRules(list, family);
          if (rules === prev) continue;
          const retry = failing.get(key);
          if (retry !== undefined && now() < retry) continue;
          jobs.push(async () => {
            try {
              await netfilter.apply(sb.NetnsPath, rules, prev === undefined, family);
              applied.set(key, rules);
              failing.delete(key);
            } catch (e) {
              // The namespace may be going away with its sandbox; otherwise say so once and retry later.
              const msg = String((e as Error)?.message ?? e);
              if (!failing.has(key)) {
                log.warn(`services: cannot program ${family === 6 ? 'IPv6 ' : ''}VIP load balancing in a sandbox; connections to its VIPs will not be balanced`, {
                  sandbox: sb.Name,
                  error: msg,
                  ...(/ENOENT|not found/i.test(msg) ? { hint: `Install ${family === 6 ? 'ip6tables' : 'iptables'} (apt-get install iptables) and nsenter (util-linux) on this host.` } : {}),
                });
              }
              failing.set(key, now() + RETRY_MS);
            }
          });
        }
      }
      for (const id of [...applied.keys()]) if (!seen.has(id)) applied.delete(id);
      for (const id of [...failing.keys()]) if (!seen.has(id)) failing.delete(id);
      // A few namespaces at a time: each is one short iptables-restore.
      const workers = Array.from({ length: Math.min(4, jobs.length) }, async () => {
        for (let j = jobs.shift(); j !== undefined; j = jobs.shift()) await j();
      });
      await Promise.all(workers);
    },
  };
}
