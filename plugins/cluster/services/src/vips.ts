/**
 * Virtual IPs (endpoint mode vip), the manager side: one address per (service, network), taken
 * from the network's own subnet as Docker does, so clients on the network reach it on-link.
 *
 * Addresses of a swarm network are handed out in blocks (the control plane's block table): every
 * node allocates its endpoints' addresses from the blocks granted to it. The leader takes blocks
 * for VIPs the same way (`Blocks.Request`, owned by the leader's node) and allocates inside them
 * itself, so a VIP never collides with an endpoint address on any node. The VIPs live in the
 * service records (durable), the blocks in the control plane's block table and in
 * `manager/vip-pools/<networkId>` (durable), so a restarted leader keeps them. A VIP is freed when
 * the service is removed, leaves the network, switches to dnsrr, or the network is removed; a
 * block with no VIP left is given back.
 */
import { errors, getJson, orRaise, putJson, raise, type Context, type ControlNetwork, type Logger, type Store } from '@weft/kernel';
import { formatIPv4, scanIPv4 } from '@weft/net';
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
  blocks: string[];
}

const poolKey = (net: string) => `manager/vip-pools/${net}`;

/** The IPv4 address of `s` (`a.b.c.d` or `a.b.c.d/len`) as a number, or undefined when it is not one. */
export function ip4(s: string): number | undefined {
  const n = scanIPv4(s.split('/')[0] ?? '');
  return n < 0 ? undefined : n;
}
export const fmt4 = formatIPv4;
export function cidr4(s: string): { base: number; bits: number } | undefined {
  const [a, b] = s.split('/');
  const base = ip4(a ?? '');
  const bits = Number(b);
  if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return undefined;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (base & mask) >>> 0, bits };
}

/** True when the service's tasks are reached through a VIP on its networks. */
export const wantsVips = (s: ServiceRecord): boolean => (s.Spec.EndpointSpec?.Mode ?? 'vip') === 'vip';

export interface VipAllocator {
  /**
   * Makes every vip-mode service hold one VIP per network it is on (allocating, freeing, and
   * returning blocks as needed). Mutates `all` (the caller persists changed records). Returns
   * warnings for VIPs that could not be allocated.
   */
  assign(all: ServiceRecord[]): Promise<string[]>;
}

/** `store`: where the VIP pools live (the services' record store: the cluster store on managers). */
export function createVipAllocator(store: () => Promise<Store>, source: VipSource, log: Logger): VipAllocator {
  return {
    async assign(all) {
      const nets = await source.networks();
      const warnings: string[] = [];
      const byId = nets === undefined ? undefined : new Map(nets.map((n) => [n.Id, n]));
      // 1. Drop VIPs no longer wanted.
      for (const s of all) {
        if (s.Vips === undefined) continue;
        for (const net of Object.keys(s.Vips)) {
          const gone = byId !== undefined && !byId.has(net);
          if (!wantsVips(s) || !attachedNetworks(s).some((n) => n.Id === net) || gone) delete s.Vips[net];
        }
        if (Object.keys(s.Vips).length === 0) delete s.Vips;
      }
      const used = new Map<string, Set<number>>();
      for (const s of all) for (const [net, a] of Object.entries(s.Vips ?? {})) {
        let u = used.get(net);
        if (u === undefined) used.set(net, (u = new Set()));
        const n = ip4(a);
        if (n !== undefined) u.add(n);
      }
      // 2. Allocate the missing ones (only when the networks are known).
      if (byId !== undefined) {
        for (const s of all) {
          if (!wantsVips(s)) continue;
          for (const n of attachedNetworks(s)) {
            if (s.Vips?.[n.Id] !== undefined) continue;
            const def = byId.get(n.Id);
            if (def === undefined) continue;
            try {
              const a = await allocate(def, used);
              (s.Vips ??= {})[n.Id] = `${a}/${cidr4(def.Subnets[0]!.Subnet)!.bits}`;
            } catch (e) {
              const why = String((e as { error?: { message?: string } }).error?.message ?? (e as Error)?.message ?? e);
              warnings.push(`service ${s.Spec.Name}: no virtual IP on network ${n.Name} (${why}); until one is allocated its name resolves to every task there, as in dnsrr mode. Free addresses on the network, or use --endpoint-mode dnsrr`);
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
        const u = used.get(net) ?? new Set<number>();
        const keep: string[] = [];
        for (const b of pool.blocks) {
          const c = cidr4(b);
          const size = c === undefined ? 0 : 2 ** (32 - c.bits);
          const inUse = c !== undefined && [...u].some((a) => a >= c.base && a < c.base + size);
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

  async function allocate(def: VipNetwork, used: Map<string, Set<number>>): Promise<string> {
    const sn = def.Subnets[0];
    const subnet = sn === undefined ? undefined : cidr4(sn.Subnet);
    if (sn === undefined || subnet === undefined) raise(errors.unavailable('services', `network ${def.Name} has no IPv4 subnet to take a virtual IP from`, { value: def.Id }));
    const size = 2 ** (32 - subnet.bits);
    const reserved = new Set<number>([subnet.base, subnet.base + size - 1]);
    for (const a of [sn.Gateway, ...Object.values(sn.AuxiliaryAddresses ?? {})]) {
      const n = ip4(a);
      if (n !== undefined) reserved.add(n);
    }
    let u = used.get(def.Id);
    if (u === undefined) used.set(def.Id, (u = new Set()));
    const pool: VipPool = (await getJson<VipPool>(await store(), poolKey(def.Id))) ?? { subnet: sn.Subnet, blocks: [] };
    const free = (block: string): number | undefined => {
      const c = cidr4(block);
      if (c === undefined) return undefined;
      for (let a = c.base; a < c.base + 2 ** (32 - c.bits); a++) if (!reserved.has(a) && !u!.has(a)) return a;
      return undefined;
    };
    for (const b of pool.blocks) {
      const a = free(b);
      if (a !== undefined) {
        u.add(a);
        return fmt4(a);
      }
    }
    // Every block held is full: take another one (the control plane refuses when the subnet is full).
    const block = await source.requestBlock(def.Id, sn.Subnet);
    pool.blocks.push(block);
    await putJson(await store(), poolKey(def.Id), pool);
    const a = free(block);
    if (a === undefined) raise(errors.unavailable('services', `block ${block} of network ${def.Name} has no usable address for a virtual IP`, { value: block }));
    u.add(a);
    return fmt4(a);
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
