/** `weft network ...`. */
import type { IPAMConfig, Network, NetworkCreateRequest, NetworkPeers, PeerView } from '@weft/api';
import type { Io, Parsed } from '../spec.ts';
import { UsageError, UserError } from '../spec.ts';
import { labelMatch, printInspect, printList, type ListSpec } from '../listing.ts';
import { client } from '../agent.ts';
import { arg, args, bool, checkFamilies, format, kvs, record, str, strs } from '../flags.ts';
import { json, progress, shortId, table } from '../format.ts';
import { compact, eachName } from '../util.ts';

/**
 * Docker's pairing: each --gateway, --ip-range and --aux-address goes to the --subnet that
 * contains it; one of them without such a subnet is a usage error.
 */
export async function ipamConfig(p: Parsed): Promise<IPAMConfig[]> {
  const subnets = strs(p, 'subnet');
  const gateways = strs(p, 'gateway');
  const ranges = strs(p, 'ip-range');
  const aux = kvs(p, 'aux-address');
  if (subnets.length === 0) {
    if (gateways.length + ranges.length + aux.length > 0) throw new UsageError('--gateway, --ip-range and --aux-address need a --subnet that contains them', p.cmd.path);
    return [];
  }
  const { checkAddress, inSubnet } = await import('../addr.ts');
  const configs = subnets.map((s) => ({ Subnet: s }) as { Subnet: string; Gateway?: string; IPRange?: string; AuxAddresses?: Record<string, string> });
  const owner = (ip: string, what: string) => {
    const c = configs.find((x) => inSubnet(x.Subnet, ip));
    if (c === undefined) throw new UsageError(`no --subnet contains ${what} ${ip}: add the subnet it belongs to`, p.cmd.path);
    return c;
  };
  for (const g of gateways) {
    const c = owner(g, 'gateway');
    if (c.Gateway !== undefined) throw new UsageError(`subnet ${c.Subnet} has two gateways (${c.Gateway}, ${g})`, p.cmd.path);
    c.Gateway = g;
  }
  for (const r of ranges) {
    const c = owner(r.split('/')[0] ?? r, 'ip-range');
    if (c.IPRange !== undefined) throw new UsageError(`subnet ${c.Subnet} has two ip-ranges (${c.IPRange}, ${r})`, p.cmd.path);
    c.IPRange = r;
  }
  for (const { key, value } of aux) {
    const why = checkAddress('ip', value);
    if (why !== undefined) throw new UsageError(`invalid --aux-address ${key}=${value}: ${why}`, p.cmd.path);
    const c = owner(value, 'aux-address');
    c.AuxAddresses = { ...c.AuxAddresses, [key]: value };
  }
  return configs;
}

export async function create(p: Parsed, io: Io): Promise<number> {
  const config = await ipamConfig(p);
  const name = arg(p, 'NAME');
  const req = compact<NetworkCreateRequest>({
    Name: name,
    Driver: str(p, 'driver'),
    Attachable: bool(p, 'attachable') || undefined,
    Internal: bool(p, 'internal') || undefined,
    Ingress: bool(p, 'ingress') || undefined,
    EnableIPv6: bool(p, 'ipv6') || undefined,
    // Docker's --ipv4=false: an IPv6-only network (the agent refuses it without --ipv6, saying so).
    EnableIPv4: p.flags.get('ipv4')?.at(-1) === false ? false : undefined,
    Options: record(p, 'opt'),
    Labels: record(p, 'label'),
    IPAM: config.length === 0 ? undefined : { Driver: 'default', Config: config },
  });
  const c = await client(p, io);
  const r = await progress(io, `Creating network "${name}"`, c.networkCreate(req));
  if (r.Warning !== '') io.err(`Warning: ${r.Warning}\n`);
  io.out(`${r.Id}\n`);
  return 0;
}

const labelsText = (l: Readonly<Record<string, string>>) => Object.entries(l).map(([k, v]) => `${k}=${v}`).join(',');

/** `weft network ls`: Docker's network context (ID, Name, Driver, Scope, IPv6, Internal, Labels, CreatedAt). */
export const networkSpec: ListSpec<Network> = {
  columns: [
    { field: 'ID', header: 'NETWORK ID', get: (n, t) => (t ? shortId(n.Id) : n.Id) },
    { field: 'Name', header: 'NAME', get: (n) => n.Name },
    { field: 'Driver', header: 'DRIVER', get: (n) => n.Driver },
    { field: 'Scope', header: 'SCOPE', get: (n) => n.Scope },
    { field: 'IPv6', header: 'IPV6', get: (n) => String(n.EnableIPv6) },
    { field: 'Internal', header: 'INTERNAL', get: (n) => String(n.Internal) },
    { field: 'Labels', header: 'LABELS', get: (n) => labelsText(n.Labels) },
    { field: 'Label', header: 'LABEL', get: (n) => (k: unknown) => n.Labels[String(k)] ?? '', method: true },
    { field: 'CreatedAt', header: 'CREATED AT', get: (n) => n.Created },
  ],
  table: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
  quiet: (n, t) => (t ? shortId(n.Id) : n.Id),
  filters: {
    driver: (n, v) => n.Driver === v,
    id: (n, v) => n.Id.startsWith(v),
    name: (n, v) => n.Name.includes(v),
    label: (n, v) => labelMatch(n.Labels, v),
    scope: (n, v) => n.Scope === v,
    // Docker's builtin networks are bridge, host and none; Weft has none of them.
    type: (_n, v) => {
      if (v !== 'custom' && v !== 'builtin') throw new UserError(`invalid filter 'type=${v}': use type=custom or type=builtin`);
      return v === 'custom';
    },
    dangling: (n, v) => {
      if (!['true', 'false', '1', '0'].includes(v)) throw new UserError(`invalid filter 'dangling=${v}': use true or false`);
      return (Object.keys(n.Containers).length === 0) === (v === 'true' || v === '1');
    },
  },
  order: (a, b) => a.Name.localeCompare(b.Name),
};

export async function ls(p: Parsed, io: Io): Promise<number> {
  const nets = await (await client(p, io)).networks();
  return printList(p, io, networkSpec, nets);
}

export async function inspect(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  const found: Network[] = [];
  const rc = await eachName(args(p, 'NAME'), io.err, async (n) => {
    found.push(await c.network(n));
  });
  return printInspect(p, io, found, rc);
}

export async function rm(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  return eachName(args(p, 'NAME'), io.err, async (n) => {
    await progress(io, `Removing network "${n}"`, c.networkRemove(n));
    io.out(`${n}\n`);
  });
}

export async function prune(p: Parsed, io: Io): Promise<number> {
  if (!bool(p, 'force') && io.stdinIsTTY) {
    const yes = await io.confirm('WARNING! This will remove all networks not used by at least one sandbox.\nAre you sure you want to continue?');
    if (!yes) return 0;
  }
  const c = await client(p, io);
  const r = await progress(io, 'Pruning networks', c.networkPrune());
  const deleted = r.NetworksDeleted ?? [];
  if (deleted.length > 0) io.out(`Deleted Networks:\n${deleted.map((n) => `${n}\n`).join('')}`);
  return 0;
}

export async function connect(p: Parsed, io: Io): Promise<number> {
  const aliases = strs(p, 'alias');
  const ip = str(p, 'ip');
  checkFamilies(p);
  const endpoint = compact<{ IPAddress: string; IPv6Address: string; Aliases: string[] }>({ IPAddress: ip, IPv6Address: str(p, 'ip6'), Aliases: aliases.length === 0 ? undefined : aliases });
  const c = await client(p, io);
  await progress(
    io,
    `Connecting "${arg(p, 'SANDBOX')}" to "${arg(p, 'NETWORK')}"`,
    c.networkConnect(arg(p, 'NETWORK'), Object.keys(endpoint).length === 0 ? { Container: arg(p, 'SANDBOX') } : { Container: arg(p, 'SANDBOX'), EndpointConfig: endpoint }),
  );
  return 0;
}

export async function disconnect(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  const body = bool(p, 'force') ? { Container: arg(p, 'SANDBOX'), Force: true } : { Container: arg(p, 'SANDBOX') };
  await progress(io, `Disconnecting "${arg(p, 'SANDBOX')}" from "${arg(p, 'NETWORK')}"`, c.networkDisconnect(arg(p, 'NETWORK'), body));
  return 0;
}

/** `no-route=3 auth=1`: the reasons with drops, or `-`. */
export function drops(d: PeerView['Drops']): string {
  const names: Record<keyof PeerView['Drops'], string> = { NoRoute: 'no-route', Auth: 'auth', Replay: 'replay', Reassembly: 'reassembly', MTU: 'mtu', Key: 'key', Send: 'send' };
  const out = (Object.keys(names) as (keyof PeerView['Drops'])[]).filter((k) => d[k] > 0).map((k) => `${names[k]}=${d[k]}`);
  return out.length === 0 ? '-' : out.join(' ');
}

/** `1.5s`, `3m20s`, `2h5m`: an SA's age. */
export function age(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function renderPeers(v: NetworkPeers): string {
  const sum = (c: Readonly<Record<string, number>>) => `tx ${c['tx_packets'] ?? 0} pkts/${c['tx_bytes'] ?? 0} B, rx ${c['rx_packets'] ?? 0} pkts/${c['rx_bytes'] ?? 0} B`;
  let out = `Network:     ${v.Network} (VNI ${v.VNI})\nEncryption:  ${v.Encrypted ? 'on' : 'off'}\n`;
  if (v.DataPlane !== undefined) out += `Data plane:  ${v.DataPlane} (this host)\n`;
  out += `Remote:      ${sum(v.Counters.Remote)}\nLocal:       ${sum(v.Counters.Local)}\n\n`;
  // The kernel's vxlan device counts per network, not per remote VTEP: no per-peer figures there.
  const perPeer = v.DataPlane !== 'kernel';
  const n = (x: number) => (perPeer ? String(x) : '-');
  out += table(
    ['NODE', 'VTEP', 'DATA PLANE', 'ENDPOINTS', 'STATIC', 'KEY EPOCH', 'SA AGE', 'TX PKTS', 'TX BYTES', 'RX PKTS', 'RX BYTES', 'DROPS'],
    v.Peers.map((pe) => [
      pe.Static ? '(static)' : pe.Node, pe.VTEP, pe.DataPlane ?? '-', String(pe.Endpoints), pe.Static ? 'yes' : 'no',
      v.Encrypted && pe.KeyEpoch >= 0 ? String(pe.KeyEpoch) : '-', v.Encrypted && pe.KeyEpoch >= 0 ? age(pe.SAAgeMs) : '-',
      n(pe.TxPackets), n(pe.TxBytes), n(pe.RxPackets), n(pe.RxBytes), perPeer ? drops(pe.Drops) : '-',
    ]),
  );
  out += '\n';
  out += table(
    ['ENDPOINT', 'NAME', 'IPV4', 'IPV6', 'MAC', 'NODE'],
    v.Endpoints.map((e) => [shortId(e.EndpointID), e.Name, e.IPv4Address, e.IPv6Address, e.MacAddress, e.Node]),
  );
  return out;
}

export async function peers(p: Parsed, io: Io): Promise<number> {
  const v = await (await client(p, io)).networkPeers(arg(p, 'NAME'));
  io.out(format(p) === 'json' ? json(v) : renderPeers(v));
  return 0;
}

export async function peerAdd(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  const ips = strs(p, 'ip');
  const v4 = ips.filter((a) => !a.includes(':'));
  const v6 = ips.filter((a) => a.includes(':'));
  if (v4.length > 1 || v6.length > 1) throw new UsageError(`--ip names the peer's overlay address: at most one IPv4 and one IPv6 (got ${ips.join(', ')})`, p.cmd.path);
  // IP: the IPv4 address, or the IPv6 one of an IPv6-only peer; IPv6: the IPv6 one of a dual-stack peer.
  await c.peerAdd(arg(p, 'NAME'), { VTEP: str(p, 'vtep') ?? '', MAC: str(p, 'mac') ?? '', IP: v4[0] ?? v6[0] ?? '', ...(v4.length > 0 && v6.length > 0 ? { IPv6: v6[0]! } : {}) });
  io.out(`${str(p, 'mac') ?? ''}\n`);
  return 0;
}

export async function peerRm(p: Parsed, io: Io): Promise<number> {
  const c = await client(p, io);
  await c.peerRemove(arg(p, 'NAME'), str(p, 'mac') ?? '');
  io.out(`${str(p, 'mac') ?? ''}\n`);
  return 0;
}
