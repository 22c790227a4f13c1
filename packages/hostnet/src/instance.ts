/**
 * This host's instance of a network: what libnetwork's controller does between a network
 * definition and the drivers. For each subnet an IPAM pool, its gateway and auxiliary addresses;
 * then the network driver's `CreateNetwork` with all of them; addresses for endpoints from the
 * blocks the manager grants this node (`Blocks.Request`), newest block first; and the teardown
 * that gives all of it back. Everything goes through `ctx.invoke`, so guards apply and errors stay
 * coded; the instance is a plain value the caller stores (the engine under `instances/<id>`, the
 * Docker plugin in its network record).
 *
 * Two users on one host may program the same network (the engine for its sandboxes, the Docker
 * plugin for containers): IPAM pools are reference-counted, a gateway or auxiliary address the
 * other already holds is a Conflict that is shared rather than fatal, and so is the driver's
 * network. What this instance did not create it does not remove.
 */
import { isLeft, type Either } from 'fp-ts/lib/Either.js';
import { WeftOptions, errors, formatError, raise, WeftException, type Context, type WeftError } from '@weft/kernel';
import { cidrContains, parseCidr, parseIP } from '@weft/net';
import { checkSubnets, familyOf } from './subnets.ts';

/** A subnet of a network definition (Docker's IPAM config). */
export interface SubnetSpec {
  readonly Subnet: string;
  /** Empty: IPAM picks one. */
  readonly Gateway: string;
  /** Local scope only: the range addresses are taken from (IPAM SubPool). */
  readonly IPRange?: string;
  readonly AuxiliaryAddresses?: Readonly<Record<string, string>>;
}

/** What the instance needs of a network definition (the kernel's `NetDef` has all of it). */
export interface NetworkSpec {
  readonly Id: string;
  readonly Name: string;
  readonly Scope: 'local' | 'swarm';
  readonly Options: Readonly<Record<string, string>>;
  readonly Internal: boolean;
  readonly Encrypted: boolean;
  readonly EnableIPv6: boolean;
  /** False: IPv6-only (no IPv4 pool, Docker's `--ipv4=false`). Absent: true. */
  readonly EnableIPv4?: boolean;
  /** None: one pool IPAM chooses. */
  readonly Subnets: readonly SubnetSpec[];
  readonly VNIs: readonly number[];
}

export interface PoolState {
  /** The pool IPAM handed out (`10.0.0.0/24`). */
  readonly subnet: string;
  readonly prefixLen: number;
  readonly poolId: string;
  readonly gatewayCidr: string;
  /** False when another user on this host held the gateway already (then it is not released here). Absent: true. */
  readonly gatewayHeld?: boolean;
  /** Auxiliary addresses this instance reserved (bare IPs). */
  readonly aux?: readonly string[];
  /** Sub-pools of blocks granted to this node, oldest first: block CIDR → PoolID. */
  blocks: { block: string; poolId: string }[];
  /** 6 for an IPv6 pool; absent: IPv4 (instances stored before IPv6 have no field). */
  readonly family?: 6;
}

/** The IP family of a pool of an instance. */
export const poolFamily = (p: Pick<PoolState, 'family'>): 4 | 6 => p.family ?? 4;

export interface Instance {
  readonly netId: string;
  /** Plugin name of the network driver. */
  readonly driver: string;
  /** IPAM address space. */
  readonly space: string;
  /** One per subnet, in the definition's order; endpoints get an address from the first of each family. */
  readonly pools: PoolState[];
  /** False when the driver's network existed already (another user on this host made it). Absent: true. */
  readonly driverOwned?: boolean;
}

export interface HostNetworkOptions {
  /** IPAM plugin name. */
  readonly ipam: string;
  /** Control plane plugin name (`Blocks.Request`, `Blocks.Release`); default `control`. */
  readonly control?: string;
}

const bare = (cidr: string): string => cidr.split('/')[0] ?? cidr;

/** The sequence of IPAM, control-plane and driver calls that programs a network on this host. */
export class HostNetwork {
  private readonly ctx: Context<unknown>;
  private readonly ipam: string;
  private readonly control: string;
  /**
   * Blocks found full, per instance object (kept in memory only): allocation skips them, so a host
   * with hundreds of blocks does not ask each full one again on every new block. `released`
   * forgets a block when one of its addresses is given back.
   */
  private readonly full = new WeakMap<Instance, Set<string>>();

  constructor(ctx: Context<any>, opts: HostNetworkOptions) {
    this.ctx = ctx;
    this.ipam = opts.ipam;
    this.control = opts.control ?? 'control';
  }

  private async call<T>(plugin: string, method: string, input: unknown): Promise<T> {
    const r: Either<WeftError, unknown> = await this.ctx.invoke(plugin, method, input);
    if (isLeft(r)) raise(r.left);
    return r.right as T;
  }

  /** Cleanup: a failure is logged, never thrown (the rest of the cleanup still runs). */
  private async attempt(plugin: string, method: string, input: unknown): Promise<void> {
    try {
      await this.call(plugin, method, input);
    } catch (e) {
      this.ctx.log.warn(`${method} failed during cleanup`, { error: e instanceof WeftException ? formatError(e.error) : String(e) });
    }
  }

  /** Requests `address` in `poolId`; a Conflict (held by another user on this host) gives undefined. */
  private async hold(poolId: string, address: string, options: Record<string, string> | null): Promise<string | undefined> {
    const r = await this.ctx.invoke(this.ipam, 'IpamDriver.RequestAddress', { PoolID: poolId, Address: address, Options: options });
    if (!isLeft(r)) return (r.right as { Address: string }).Address;
    if (r.left.category === 'Conflict' && address !== '') return undefined;
    raise(r.left);
  }

  /**
   * Programs `def` on this host with network driver `driver`: a pool, gateway and auxiliary
   * addresses per subnet, then the driver's CreateNetwork. On failure everything done is undone.
   */
  async instantiate(def: NetworkSpec, driver: string): Promise<Instance> {
    // A definition recorded before these rules (an IPv6 subnet without EnableIPv6, say) is refused
    // here with the reason, rather than half-programmed.
    const enableIPv4 = def.EnableIPv4 !== false;
    checkSubnets(this.ctx.plugin, def.Name, def.EnableIPv6, def.Subnets, enableIPv4);
    const spaces = await this.call<{ LocalDefaultAddressSpace: string; GlobalDefaultAddressSpace: string }>(this.ipam, 'IpamDriver.GetDefaultAddressSpaces', {});
    const space = def.Scope === 'swarm' ? spaces.GlobalDefaultAddressSpace : spaces.LocalDefaultAddressSpace;
    const pools: PoolState[] = [];
    const data: Record<4 | 6, { AddressSpace: string; Pool: string; Gateway: string; AuxAddresses: Record<string, string> }[]> = { 4: [], 6: [] };
    const undo: (() => Promise<void>)[] = [];
    // Each subnet's family; an empty Subnet (IPAM picks) is IPv4, or IPv6 on an IPv6-only network.
    // No IPv4 subnet: an IPv4 pool IPAM picks (a network has IPv4 unless EnableIPv4 is false,
    // Docker's --ipv4=false); with EnableIPv6 and no IPv6 subnet, an IPv6 pool IPAM picks beside them.
    const subnets: (SubnetSpec & { readonly v6: boolean })[] = def.Subnets.map((s) => ({ ...s, v6: s.Subnet === '' ? !enableIPv4 : familyOf(s.Subnet) === 6 }));
    if (enableIPv4 && !subnets.some((s) => !s.v6)) subnets.unshift({ Subnet: '', Gateway: '', v6: false });
    if (def.EnableIPv6 && !subnets.some((s) => s.v6)) subnets.push({ Subnet: '', Gateway: '', v6: true });
    // IPv4 pools first (stable): pools[0] stays the IPv4 one for whoever reads it.
    subnets.sort((x, y) => Number(x.v6) - Number(y.v6));
    try {
      for (const s of subnets) {
        const pool = await this.call<{ PoolID: string; Pool: string }>(this.ipam, 'IpamDriver.RequestPool', {
          AddressSpace: space,
          Pool: s.Subnet,
          SubPool: def.Scope === 'local' ? (s.IPRange ?? '') : '',
          Options: { [WeftOptions.networkName]: def.Name },
          V6: s.v6,
        });
        undo.push(() => this.attempt(this.ipam, 'IpamDriver.ReleasePool', { PoolID: pool.PoolID }));
        const prefixLen = Number(pool.Pool.split('/')[1]);
        const gw = await this.hold(pool.PoolID, s.Gateway, { RequestAddressType: 'com.docker.network.gateway' });
        if (gw !== undefined) undo.push(() => this.attempt(this.ipam, 'IpamDriver.ReleaseAddress', { PoolID: pool.PoolID, Address: bare(gw) }));
        const gatewayCidr = gw ?? `${bare(s.Gateway)}/${prefixLen}`;
        const aux: Record<string, string> = {};
        const held: string[] = [];
        for (const [k, a] of Object.entries(s.AuxiliaryAddresses ?? {})) {
          const got = await this.hold(pool.PoolID, bare(a), null);
          aux[k] = got ?? `${bare(a)}/${prefixLen}`;
          if (got !== undefined) {
            held.push(bare(got));
            undo.push(() => this.attempt(this.ipam, 'IpamDriver.ReleaseAddress', { PoolID: pool.PoolID, Address: bare(got) }));
          }
        }
        pools.push({ subnet: pool.Pool, prefixLen, poolId: pool.PoolID, gatewayCidr, ...(gw === undefined ? { gatewayHeld: false } : {}), ...(held.length > 0 ? { aux: held } : {}), blocks: [], ...(s.v6 ? { family: 6 as const } : {}) });
        data[s.v6 ? 6 : 4].push({ AddressSpace: space, Pool: pool.Pool, Gateway: gatewayCidr, AuxAddresses: aux });
      }
      const generic: Record<string, string> = { ...def.Options };
      if (def.VNIs.length > 0) generic['com.docker.network.driver.overlay.vxlanid_list'] = def.VNIs.join(',');
      if (def.Encrypted) generic.encrypted = '';
      const created = await this.ctx.invoke(driver, 'NetworkDriver.CreateNetwork', {
        NetworkID: def.Id,
        Options: { 'com.docker.network.generic': generic, 'com.docker.network.enable_ipv6': def.EnableIPv6, 'com.docker.network.internal': def.Internal },
        IPv4Data: data[4],
        IPv6Data: data[6],
      });
      // Conflict: the driver already has this network on this host (another user of the driver on
      // this host set it up first). Share it, and leave its removal to that user.
      if (isLeft(created) && created.left.category !== 'Conflict') raise(created.left);
      return { netId: def.Id, driver, space, pools, ...(isLeft(created) ? { driverOwned: false } : {}) };
    } catch (e) {
      for (const u of undo.reverse()) await u();
      throw e;
    }
  }

  /**
   * An address of `family` (default 4) for a new endpoint: `ip` when given (from the pool whose
   * subnet holds it, else the first of the family), else from this node's blocks (`blocks`: swarm
   * networks with a control plane) or the first pool of the family. Blocks are asked newest first:
   * older ones are usually full, and asking each of them first made an attach cost one IPAM call
   * per block held (O(N) at 10,000 endpoints). When every block is full the manager grants
   * another (IPv6 blocks are /124s of the IPv6 subnet); `save` is called after the instance changed.
   */
  /**
   * `grow` (optional) runs the "every block is full: ask the manager for one more" step; callers
   * that allocate on one instance concurrently pass a per-network lock, so one new block is asked
   * for at a time and a second caller first tries the block the first one added.
   */
  async allocate(def: Pick<NetworkSpec, 'Id' | 'Name'>, inst: Instance, ip: string | undefined, opts: { readonly blocks: boolean; readonly save: () => Promise<void>; readonly family?: 4 | 6; readonly grow?: <T>(fn: () => Promise<T>) => Promise<T> }): Promise<{ address: string; poolId: string }> {
    const family = opts.family ?? 4;
    const ofFamily = inst.pools.filter((p) => poolFamily(p) === family);
    const pool = ofFamily[0];
    if (pool === undefined) raise(errors.unavailable(this.ctx.plugin, `network ${def.Name} has no IPv${family} subnet`));
    if (ip !== undefined && ip !== '') {
      if (familyOf(ip) !== family) raise(errors.badRequest(this.ctx.plugin, `address ${ip} is not an IPv${family} address`, { value: ip, hint: `Give an IPv${family} address in ${ofFamily.map((p) => p.subnet).join(', ')}.` }));
      const p = ofFamily.find((x) => inSubnet(ip, x.subnet));
      if (p === undefined) {
        const subnets = ofFamily.map((x) => x.subnet).join(', ');
        raise(errors.badRequest(this.ctx.plugin, `address ${ip} is not in network ${def.Name}'s IPv${family} subnet${ofFamily.length > 1 ? 's' : ''} ${subnets}`, { value: ip, hint: `Give an address in ${subnets}, or none to have one allocated.` }));
      }
      const r = await this.call<{ Address: string }>(this.ipam, 'IpamDriver.RequestAddress', { PoolID: p.poolId, Address: ip, Options: null });
      return { address: r.Address, poolId: p.poolId };
    }
    if (!opts.blocks) {
      const r = await this.call<{ Address: string }>(this.ipam, 'IpamDriver.RequestAddress', { PoolID: pool.poolId, Address: '', Options: null });
      return { address: r.Address, poolId: pool.poolId };
    }
    const tried = this.full.get(inst) ?? new Set<string>();
    this.full.set(inst, tried);
    const fromBlocks = async (): Promise<{ address: string; poolId: string } | undefined> => {
      for (let i = pool.blocks.length - 1; i >= 0; i--) {
        const b = pool.blocks[i]!;
        if (tried.has(b.poolId)) continue;
        const r = await this.ctx.invoke(this.ipam, 'IpamDriver.RequestAddress', { PoolID: b.poolId, Address: '', Options: null });
        if (!isLeft(r)) return { address: (r.right as { Address: string }).Address, poolId: b.poolId };
        if (r.left.category !== 'Unavailable') raise(r.left);
        tried.add(b.poolId);
      }
      return undefined;
    };
    const got = await fromBlocks();
    if (got !== undefined) return got;
    return (opts.grow ?? (<T>(fn: () => Promise<T>) => fn()))(async () => {
      // Blocks another caller added while this one waited come first.
      const again = await fromBlocks();
      if (again !== undefined) return again;
      const grant = await this.call<{ Block: string }>(this.control, 'Blocks.Request', { Network: def.Id, Subnet: pool.subnet });
      const sub = await this.call<{ PoolID: string }>(this.ipam, 'IpamDriver.RequestPool', { AddressSpace: inst.space, Pool: pool.subnet, SubPool: grant.Block, Options: {}, V6: family === 6 });
      pool.blocks.push({ block: grant.Block, poolId: sub.PoolID });
      await opts.save();
      const r = await this.call<{ Address: string }>(this.ipam, 'IpamDriver.RequestAddress', { PoolID: sub.PoolID, Address: '', Options: null });
      return { address: r.Address, poolId: sub.PoolID };
    });
  }

  /** An address of `poolId` (a block of `inst`) was given back: allocation may look there again. */
  released(inst: Instance, poolId: string): void {
    this.full.get(inst)?.delete(poolId);
  }

  /**
   * Gives back what `instantiate` and `allocate` took: the driver's network (if this instance made
   * it), blocks (to IPAM and, with a control plane, to the manager), auxiliary addresses, gateways
   * (if held here) and pools. Failures are logged; the rest still runs.
   */
  async teardown(inst: Instance, opts: { readonly releaseBlocks: boolean }): Promise<void> {
    if (inst.driverOwned !== false) await this.attempt(inst.driver, 'NetworkDriver.DeleteNetwork', { NetworkID: inst.netId });
    for (const p of inst.pools) {
      for (const b of p.blocks) {
        await this.attempt(this.ipam, 'IpamDriver.ReleasePool', { PoolID: b.poolId });
        if (opts.releaseBlocks) await this.attempt(this.control, 'Blocks.Release', { Network: inst.netId, Block: b.block });
      }
      for (const a of p.aux ?? []) await this.attempt(this.ipam, 'IpamDriver.ReleaseAddress', { PoolID: p.poolId, Address: a });
      if (p.gatewayHeld !== false) await this.attempt(this.ipam, 'IpamDriver.ReleaseAddress', { PoolID: p.poolId, Address: bare(p.gatewayCidr) });
      await this.attempt(this.ipam, 'IpamDriver.ReleasePool', { PoolID: p.poolId });
    }
  }
}

/** True when address `ip` (bare or with a prefix length) lies in `cidr`; either family, false for anything unparsable. */
export function inSubnet(ip: string, cidr: string): boolean {
  const a = parseIP(bare(ip));
  const c = parseCidr(cidr);
  return a.ok && c.ok && cidrContains(c.value, a.value);
}
