/** The API's views of networks and sandboxes, from the engine's records and the cluster's tables. */
import { isLeft } from 'fp-ts/lib/Either.js';
import { decodeEndpointRecord, ENDPOINTS_TABLE, getJson, type Context, type NetDef, type Network, type NetworkEndpoint, type Sandbox } from '@weft/kernel';
import type { Instance } from '@weft/hostnet';
import { overlayDefaultMtu, splitHostPort } from '@weft/net';
import type { SandboxHost } from './host.ts';
import type { EngineConfig, SandboxRecord } from './records.ts';

/** A sandbox as the API shows it; `netnsPath` is where its interfaces live. */
export function sandboxView(s: SandboxRecord, host: SandboxHost, netnsPath: string): Sandbox {
  const running = s.Stopped !== true && ((s.Pid > 0 && host.alive(s.Pid)) || s.Attached === true);
  const networks: Record<string, { IPAddress: string; MacAddress: string; Aliases: string[]; EndpointID: string; NetworkID: string; GlobalIPv6Address?: string }> = {};
  for (const [n, a] of Object.entries(s.Networks)) {
    networks[n] = { IPAddress: a.IPAddress, MacAddress: a.MacAddress, Aliases: a.Aliases, EndpointID: a.EndpointID, NetworkID: a.NetworkID, ...(a.IPv6Address !== undefined ? { GlobalIPv6Address: a.IPv6Address } : {}) };
  }
  return {
    Name: s.Name,
    Id: s.Id,
    NetnsPath: netnsPath,
    ...(s.Bare === true ? { Bare: true } : {}),
    Hostname: s.Hostname,
    Cmd: s.Cmd,
    Pid: running ? s.Pid : 0,
    State: s.Stopped === true ? 'exited' : s.Cmd.length === 0 ? 'created' : running ? 'running' : 'exited',
    ExitCode: running ? null : (s.ExitCode ?? null),
    Created: s.Created,
    Image: s.Image ?? '',
    StartedAt: s.StartedAt ?? '',
    FinishedAt: s.FinishedAt ?? '',
    ...(s.Attached === true ? { Attached: true } : {}),
    Networks: networks,
    Ports: s.Ports,
    ResolvConf: s.ResolvConf,
  };
}

/** A network as the API shows it: local and cluster endpoints, peers, address use, MTU. */
export async function networkView(ctx: Context<EngineConfig>, def: NetDef, records: readonly SandboxRecord[]): Promise<Network> {
  const local: Record<string, NetworkEndpoint> = {};
  for (const s of records) {
    const a = s.Networks[def.Name];
    if (a !== undefined) local[a.EndpointID] = { Name: s.Name, EndpointID: a.EndpointID, MacAddress: a.MacAddress, IPv4Address: a.IPAddress, IPv6Address: a.IPv6Address ?? '', Node: ctx.config.node };
  }
  const endpoints: NetworkEndpoint[] = [...Object.values(local)];
  /** Each host's data plane for this network, as its endpoint records say. */
  const planes = new Map<string, 'kernel' | 'userspace'>();
  if (ctx.services.has('tables')) {
    for (const e of ctx.services.get('tables').entries(def.Id, ENDPOINTS_TABLE)) {
      const r = decodeEndpointRecord(e.value);
      if (r?.dataplane !== undefined) planes.set(r.node, r.dataplane);
      if (local[e.key] !== undefined) continue;
      if (r !== undefined) endpoints.push({ Name: r.name, EndpointID: e.key, MacAddress: r.mac, IPv4Address: r.ipv4, IPv6Address: r.ipv6 ?? '', Node: r.node });
    }
  }
  const here = ctx.services.has('datapath') ? ctx.services.get('datapath').placement?.(def.Id)?.dataplane : undefined;
  if (here !== undefined) planes.set(ctx.config.node, here);
  const members = ctx.services.has('membership') ? ctx.services.get('membership').members() : [];
  const peers = ctx.services.has('tables')
    ? ctx.services.get('tables').peers(def.Id).map((n) => {
        const m = members.find((x) => x.name === n);
        const plane = planes.get(n);
        const dp = m?.meta.dp !== undefined ? splitHostPort(m.meta.dp, 0) : undefined;
        return { Name: n, IP: dp?.ok === true ? dp.value.host : (m?.addr ?? ''), ...(plane !== undefined ? { DataPlane: plane } : {}) };
      })
    : [];
  const inst = await getJson<Instance>(ctx.store, `instances/${def.Id}`);
  const util: Network['Utilisation'][number][] = [];
  if (inst !== undefined) {
    const r = await ctx.invoke(ctx.config.ipam, 'Ipam.Utilisation', {});
    if (!isLeft(r)) {
      // Counts are decimal strings (IPv6 pools exceed 2^53); IPv4 ones fit a number.
      const pools = (r.right as { Pools?: { PoolID: string; Size: string; Reserved: string; Used: string }[] }).Pools ?? [];
      for (const p of inst.pools) {
        const u = pools.find((x) => x.PoolID === p.poolId);
        if (u !== undefined) util.push({ Subnet: p.subnet, Used: Number(u.Used), Total: Number(u.Size) - Number(u.Reserved) });
      }
    }
  }
  // The MTU sandboxes get: the option or the driver's default, less the encryption envelope
  // (rounded down to 4, as the overlay does) on encrypted networks.
  const mtuOpt = def.Options['com.docker.network.driver.mtu'];
  // Over an IPv6 underlay (this node's VTEP, as its gossip meta says) the default is 20 bytes less.
  const selfDp = members.find((x) => x.name === ctx.config.node)?.meta.dp;
  const sp = selfDp !== undefined ? splitHostPort(selfDp, 0) : undefined;
  const underlay = sp?.ok === true ? sp.value.family : 4;
  let mtu = mtuOpt !== undefined ? Number(mtuOpt) : def.Scope === 'swarm' ? overlayDefaultMtu(underlay) : 1500;
  if (def.Encrypted && ctx.services.has('cipher')) mtu = Math.floor((mtu - ctx.services.get('cipher').overhead) / 4) * 4;
  return {
    Name: def.Name,
    Id: def.Id,
    Created: def.Created,
    Scope: def.Scope,
    Driver: def.Driver,
    EnableIPv6: def.EnableIPv6,
    EnableIPv4: def.EnableIPv4 !== false,
    IPAM: { Driver: 'default', Options: {}, Config: def.Subnets.map((s) => ({ Subnet: s.Subnet, Gateway: s.Gateway, ...(s.IPRange !== undefined ? { IPRange: s.IPRange } : {}) })) },
    Internal: def.Internal,
    Attachable: def.Attachable,
    Ingress: def.Ingress === true,
    Encrypted: def.Encrypted,
    VNI: def.VNIs[0] ?? 0,
    MTU: mtu,
    Containers: local,
    Endpoints: endpoints,
    Options: def.Options,
    Labels: def.Labels,
    Peers: peers,
    ...(here !== undefined ? { DataPlane: here } : {}),
    Utilisation: util,
  };
}
