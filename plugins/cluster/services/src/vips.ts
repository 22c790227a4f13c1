/**
 * Virtual IPs (endpoint mode vip), the manager side: one address per (service, network), taken
 * from the network's own subnet as Docker does, so clients on the network reach it on-link.
 *
 * Addresses of a swarm network are handed out in blocks (the control plane's block table): every
 * node allocates its endpoints' addresses from the blocks granted to it. The leader takes blocks
 * for VIPs the same way (`Blocks.Request`, owned by the leader's node) and allocates inside them
 * itself, so a VIP never collides with an endpoint address on any node. The VIPs live in the
 * service records (durable), the blocks in the control plane's block table and in
 * `manager/vip-pools/<networkId>` (durable), so a restarted leader keeps them. On a dual-stack
 * network a service also gets an IPv6 VIP (`ServiceRecord.Vips6`), from the network's IPv6 subnet
 * the same way (its blocks, /124s, in the same pool record). A VIP is freed when
 * the service is removed, leaves the network, switches to dnsrr, or the network is removed; a
 * block with no VIP left is given back.
 */
import { errors, getJson, orRaise, putJson, raise, type Context, type ControlNetwork, type Logger, type Store } from '@weft/kernel';
import { cidrContains, cidrContainsCidr, cidrLast, cidrNetwork, cidrNth, cidrSize, formatIP, parseCidr, parseIP } from '@weft/net';
import { attachedNetworks, type ServiceRecord } from './records.ts';

/** What the allocator needs from the control plane (the default uses the `control` plugin). */
export interface VipSource {
  /** The swarm networks, or undefined when the control plane cannot say now (nothing is freed then). */
  networks(): Promise<readonly VipNetwork[] | undefined>;
  /** A free block of `subnet` for this (the leader's) node. */
  requestBlock(network: string, subnet: string): Promise<string>;
  releaseBlock(network: string, block: string): Promise<void>;
}

/** What the allocator reads of a swarm network. */
export type VipNetwork = Pick<ControlNetwork, 'Id' | 'Name' | 'Subnets'>;

interface VipPool {
  readonly subnet: string;
  /** Blocks of the network's subnets held for VIPs (IPv4 and, on dual-stack networks, IPv6 ones). */
  blocks: string[];
}

const poolKey = (net: string) => `manager/vip-pools/${net}`;

/** An address (`10.0.0.5`, `fd00::5/64`) in canonical text without its prefix, or undefined. */
function addrKey(s: string): string | undefined {
  const r = parseIP(s.split('/')[0] ?? '');
  return r.ok ? formatIP(r.value) : undefined;
}

/** The network's first subnet of `family` (IPv4 subnets come first in the record, then IPv6). */
export function subnetOf<S extends { readonly Subnet: string }>(subnets: readonly S[], family: 4 | 6): S | undefined {
  return subnets.find((s) => {
    const c = parseCidr(s.Subnet);
    return c.ok && c.value.family === family;
  });
}

/** True when the service's tasks are reached through a VIP on its networks. */
export const wantsVips = (s: ServiceRecord): boolean => (s.Spec.EndpointSpec?.Mode ?? 'vip') === 'vip';

export interface VipAllocator {
  /**
   * Makes every vip-mode service hold one VIP per network it is on, and one IPv6 VIP per
   * dual-stack network (allocating, freeing, and returning blocks as needed). Mutates `all` (the
   * caller persists changed records). Returns warnings for VIPs that could not be allocated.
   */
  assign(all: ServiceRecord[]): Promise<string[]>;
}

type VipField = 'Vips' | 'Vips6';
const FAMILIES: readonly { readonly field: VipField; readonly family: 4 | 6 }[] = [
  { field: 'Vips', family: 4 },
  { field: 'Vips6', family: 6 },
];

/** `store`: where the VIP pools live (the services' record store: the cluster store on managers). */
export function createVipAllocator(store: () => Promise<Store>, source: VipSource, log: Logger): VipAllocator {
  return {
    async assign(all) {
      const nets = await source.networks();
      const warnings: string[] = [];
      const byId = nets === undefined ? undefined : new Map(nets.map((n) => [n.Id, n]));
      // 1. Drop VIPs no longer wanted (an IPv6 one also when the network has no IPv6 subnet).
      for (const s of all) {
        for (const { field, family } of FAMILIES) {
          const held = s[field];
          if (held === undefined) continue;
          for (const net of Object.keys(held)) {
            const def = byId?.get(net);
            const gone = byId !== undefined && (def === undefined || subnetOf(def.Subnets, family) === undefined);
            if (!wantsVips(s) || !attachedNetworks(s).some((n) => n.Id === net) || gone) delete held[net];
          }
          if (Object.keys(held).length === 0) delete s[field];
        }
      }
      /** Network ID → the addresses VIPs hold there (canonical text, both families). */
      const used = new Map<string, Set<string>>();
      for (const s of all) for (const { field } of FAMILIES) for (const [net, a] of Object.entries(s[field] ?? {})) {
        let u = used.get(net);
        if (u === undefined) used.set(net, (u = new Set()));
        const k = addrKey(a);
        if (k !== undefined) u.add(k);
      }
      // 2. Allocate the missing ones (only when the networks are known).
      if (byId !== undefined) {
        for (const s of all) {
          if (!wantsVips(s)) continue;
          for (const n of attachedNetworks(s)) {
            const def = byId.get(n.Id);
            if (def === undefined) continue;
            for (const { field, family } of FAMILIES) {
              if (s[field]?.[n.Id] !== undefined) continue;
              const sn = subnetOf(def.Subnets, family);
              // No IPv6 subnet: no IPv6 VIP. No IPv4 subnet either is said by allocate.
              if (sn === undefined && family === 6) continue;
              try {
                if (sn === undefined) raise(errors.unavailable('services', `network ${def.Name} has no IPv4 subnet to take a virtual IP from`, { value: def.Id }));
                const a = await allocate(def, sn, used);
                (s[field] ??= {})[n.Id] = `${a}/${sn.Subnet.split('/')[1]}`;
              } catch (e) {
                const why = String((e as { error?: { message?: string } }).error?.message ?? (e as Error)?.message ?? e);
                warnings.push(
                  family === 4
                    ? `service ${s.Spec.Name}: no virtual IP on network ${n.Name} (${why}); until one is allocated its name resolves to every task there, as in dnsrr mode. Free addresses on the network, or use --endpoint-mode dnsrr`
                    : `service ${s.Spec.Name}: no IPv6 virtual IP on network ${n.Name} (${why}); until one is allocated its name has no AAAA record there (tasks.${s.Spec.Name} has). Free IPv6 addresses on the network, or use --endpoint-mode dnsrr`,
                );
              }
            }
          }
        }
      }
      // 3. Give back blocks no VIP uses (and forget pools of removed networks).
      for (const k of await (await store()).keys('manager/vip-pools/')) {
        const net = k.slice('manager/vip-pools/'.length);
        const pool = await getJson<VipPool>(await store(), k);
        if (pool === undefined) continue;
        if (byId !== undefined && !byId.has(net)) {
          await (await store()).delete(k);
          continue;
        }
        const u = [...(used.get(net) ?? [])].flatMap((a) => {
          const r = parseIP(a);
          return r.ok ? [r.value] : [];
        });
        const keep: string[] = [];
        for (const b of pool.blocks) {
          const c = parseCidr(b);
          const inUse = c.ok && u.some((a) => cidrContains(c.value, a));
          if (inUse || byId === undefined) keep.push(b);
          else {
            try {
              await source.releaseBlock(net, b);
            } catch (e) {
              // Not ours (any more) or gone: nothing to give back. Otherwise kept, and the next pass
              // gives it back (a block is never lost to the leader).
              const cat = (e as { error?: { category?: string } }).error?.category;
              if (cat === 'Forbidden' || cat === 'NotFound') continue;
              keep.push(b);
              log.warn('services: cannot release a VIP block; retrying on the next pass', { network: net, block: b, error: String((e as { error?: { message?: string } }).error?.message ?? (e as Error)?.message ?? e) });
            }
          }
        }
        if (keep.length === 0) await (await store()).delete(k);
        else if (keep.length !== pool.blocks.length) await putJson(await store(), k, { ...pool, blocks: keep });
      }
      return warnings;
    },
  };

  /** A free address of subnet `sn` of `def` for a VIP (from a block the leader holds, or a new one). */
  async function allocate(def: VipNetwork, sn: VipNetwork['Subnets'][number], used: Map<string, Set<string>>): Promise<string> {
    const parsed = parseCidr(sn.Subnet);
    if (!parsed.ok) raise(errors.unavailable('services', `network ${def.Name} has a subnet that cannot be read: ${sn.Subnet}`, { value: sn.Subnet }));
    const subnet = parsed.value;
    // The subnet's first and last addresses (IPv4: network and broadcast; IPv6: the subnet-router
    // anycast address and the last one), its gateway and aux addresses are never VIPs.
    const reserved = new Set<string>([formatIP(cidrNetwork(subnet)), formatIP(cidrLast(subnet))]);
    for (const a of [sn.Gateway, ...Object.values(sn.AuxiliaryAddresses ?? {})]) {
      const k = a === undefined ? undefined : addrKey(a);
      if (k !== undefined) reserved.add(k);
    }
    let u = used.get(def.Id);
    if (u === undefined) used.set(def.Id, (u = new Set()));
    const pool: VipPool = (await getJson<VipPool>(await store(), poolKey(def.Id))) ?? { subnet: sn.Subnet, blocks: [] };
    const free = (block: string): string | undefined => {
      const c = parseCidr(block);
      if (!c.ok || c.value.family !== subnet.family || !cidrContainsCidr(subnet, c.value)) return undefined;
      const size = cidrSize(c.value);
      for (let i = 0n; i < size; i++) {
        const ip = cidrNth(c.value, i);
        if (ip === undefined) break;
        const k = formatIP(ip);
        if (!reserved.has(k) && !u!.has(k)) return k;
      }
      return undefined;
    };
    for (const b of pool.blocks) {
      const a = free(b);
      if (a !== undefined) {
        u.add(a);
        return a;
      }
    }
    // Every block of this subnet held is full: take another one (the control plane refuses when the subnet is full).
    const block = await source.requestBlock(def.Id, sn.Subnet);
    pool.blocks.push(block);
    await putJson(await store(), poolKey(def.Id), pool);
    const a = free(block);
    if (a === undefined) raise(errors.unavailable('services', `block ${block} of network ${def.Name} has no usable address for a virtual IP`, { value: block }));
    u.add(a);
    return a;
  }
}

/** The default source: the `control` plugin (Network.List, Blocks.Request/Release) of this (leader) node. */
export function controlVipSource(ctx: Context<unknown>): VipSource {
  const control = (): void => {
    if (!ctx.services.has('control')) raise(errors.unavailable('services', 'no control plane on this node: virtual IPs need a swarm ("weft swarm init")'));
  };
  return {
    async networks() {
      if (!ctx.services.has('control')) return undefined;
      const r = await ctx.invoke('control', 'Network.List', {});
      return r._tag === 'Left' ? undefined : r.right;
    },
    async requestBlock(network, subnet) {
      control();
      return orRaise(await ctx.invoke('control', 'Blocks.Request', { Network: network, Subnet: subnet })).Block;
    },
    async releaseBlock(network, block) {
      control();
      orRaise(await ctx.invoke('control', 'Blocks.Release', { Network: network, Block: block }));
    },
  };
}
