/**
 * `testDataPath`: the conformance suite of the kernel's `DataPath` contract
 * (contracts/datapath.ts), which every data path plugin — @weft/vxlan, a third party's — must pass.
 *
 * Two parts. The table part needs one instance and no privileges: networks, peers, counters,
 * refusals. The frame part needs an environment that can make sandboxes (on Linux: root and
 * network namespaces): two instances joined by an underlay, and frames really moving between
 * sandboxes — switched on one host, carried between hosts, stopped when a peer or port goes,
 * kept apart between networks. When the environment cannot, the frame part is skipped, saying why.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Counters, DataPath, DataPathNetwork, PeerSpec, PortSpec } from '@weft/kernel';

export interface DataPathInstance {
  readonly dataPath: DataPath;
  /** This instance's underlay address: what peers on the other instance put in `PeerSpec.vtep`. */
  readonly vtep: string;
}

/** Two instances joined by an underlay, and sandboxes on their hosts. */
export interface DataPathHosts {
  readonly a: DataPathInstance;
  readonly b: DataPathInstance;
  /** Makes a sandbox on `host`'s host; returns what `PortSpec.netns` takes. */
  sandbox(host: DataPathInstance, name: string): string | Promise<string>;
  /** Sends one ICMP echo request from inside `sandbox` to `address`: true when a reply came back (wait at most 1 s). */
  ping(sandbox: string, address: string): boolean | Promise<boolean>;
  /** Stops both instances and removes the sandboxes and the underlay; always called. */
  close(): Promise<void>;
}

export interface DataPathSuiteOptions {
  /** A fresh instance for the table tests; `close` stops it. */
  readonly create: () => Promise<{ readonly dataPath: DataPath; close(): Promise<void> }>;
  /** The frame tests' environment; absent when it cannot be had here (then give `skip`). */
  readonly hosts?: () => Promise<DataPathHosts>;
  /** Why the frame tests cannot run here, printed when they are skipped. */
  readonly skip?: string;
  /** Second octet of the 10.x.0.0/16 addresses the frame tests use (default 77). */
  readonly subnet?: number;
  /** First VNI the tests use (default 7700); they use three from it. */
  readonly vni?: number;
}

const net = (id: string, vni: number, gw: string, extra: Partial<DataPathNetwork> = {}): DataPathNetwork => ({ id, vni, mtu: 1400, encrypted: false, internal: false, gateways: [gw], ...extra });

/** Sum of every counter of a network: it only grows while frames move. */
const total = (c: Readonly<Record<string, Counters>>): number => Object.values(c).reduce((n, row) => n + Object.values(row).reduce((m, v) => m + v, 0), 0);

function assertCounters(c: Readonly<Record<string, Counters>>, what: string): void {
  assert.type(c, 'object', `${what}: counters() returns an object`);
  for (const [k, row] of Object.entries(c)) {
    for (const [name, v] of Object.entries(row)) {
      assert.ok(Number.isFinite(v) && v >= 0, `${what}: counter ${k}.${name} is ${v}, not a non-negative number`);
    }
  }
}

async function rejects(p: () => unknown, what: string): Promise<void> {
  try {
    await p();
  } catch {
    return;
  }
  assert.unreachable(what);
}

export function testDataPath(name: string, opts: DataPathSuiteOptions): void {
  const vni = opts.vni ?? 7700;
  const x = opts.subnet ?? 77;

  const t = suite(`DataPath conformance (tables): ${name}`);
  let inst: { readonly dataPath: DataPath; close(): Promise<void> };
  t.before.each(async () => {
    inst = await opts.create();
  });
  t.after.each(async () => {
    await inst.close();
  });

  t('ensureNetwork is idempotent; counters are non-negative numbers', async () => {
    const dp = inst.dataPath;
    const n = net('conf-n1', vni, `10.${x}.1.1/24`);
    await dp.ensureNetwork(n);
    await dp.ensureNetwork(n);
    assertCounters(dp.counters(), 'all networks');
    assertCounters(dp.counters('conf-n1'), 'one network');
    if (dp.portCount !== undefined) assert.is(dp.portCount(), 0, 'no ports yet');
    if (dp.capacity !== undefined) assert.ok(Number.isInteger(dp.capacity.ports) && dp.capacity.ports > 0, `capacity.ports ${dp.capacity.ports}`);
  });

  t('ports and peers need their network: on an unknown one they are refused', async () => {
    const dp = inst.dataPath;
    assert.throws(() => dp.addPeer({ network: 'conf-none', mac: '02:42:0a:00:00:05', ipv4: `10.${x}.9.5`, vtep: '198.18.0.2' }), undefined, 'addPeer on a network never ensured');
    await rejects(() => dp.addPort({ network: 'conf-none', endpointId: 'e1', mac: '02:42:0a:00:00:06', ipv4: `10.${x}.9.6/24`, ifname: 'wfconf0' }), 'addPort on a network never ensured must reject');
  });

  t('peers come and go; removing what is not there is a no-op', async () => {
    const dp = inst.dataPath;
    await dp.ensureNetwork(net('conf-n2', vni + 1, `10.${x}.2.1/24`));
    dp.addPeer({ network: 'conf-n2', mac: '02:42:0a:4d:02:05', ipv4: `10.${x}.2.5`, vtep: '198.18.0.2' });
    dp.addPeer({ network: 'conf-n2', mac: '02:42:0a:4d:02:05', ipv4: `10.${x}.2.5`, vtep: '198.18.0.3' }); // moved: replaces
    dp.removePeer('conf-n2', '02:42:0a:4d:02:05');
    dp.removePeer('conf-n2', '02:42:0a:4d:02:05');
    dp.removePeer('conf-none', '02:42:0a:4d:02:05');
    assertCounters(dp.counters('conf-n2'), 'after peers');
    await dp.removeNetwork('conf-n2');
    await dp.removeNetwork('conf-n2');
    await dp.removeNetwork('conf-none');
    assert.equal(Object.keys(dp.counters('conf-n2')), [], 'a removed network has no counters');
    await dp.ensureNetwork(net('conf-n2', vni + 1, `10.${x}.2.1/24`)); // and can be made again
  });

  t('a data path that does not encrypt refuses encrypted networks (never plaintext for them)', async () => {
    const dp = inst.dataPath;
    if (dp.encrypts === true) return;
    await rejects(() => dp.ensureNetwork(net('conf-secret', vni + 2, `10.${x}.3.1/24`, { encrypted: true })), 'ensureNetwork({encrypted: true}) must reject when encrypts is not true');
  });

  t.run();

  const f = suite(`DataPath conformance (frames): ${name}`);
  if (opts.hosts === undefined) {
    f(`frames between sandboxes`, () => console.log(`  skipped frame tests of "${name}": ${opts.skip ?? 'no hosts() environment given'}`));
    f.run();
    return;
  }
  const makeHosts = opts.hosts;
  let h: DataPathHosts | undefined;
  const sb: Record<string, string> = {};
  const H = (): DataPathHosts => {
    if (h === undefined) throw new Error(`hosts() of "${name}" failed: see the error above`);
    return h;
  };
  const pingOk = async (from: string, to: string, what: string) => {
    for (let i = 0; i < 5; i++) if (await H().ping(sb[from]!, to)) return;
    assert.unreachable(`${what}: no echo reply from ${to} to sandbox ${from}`);
  };
  const pingFails = async (from: string, to: string, what: string) => {
    if (await H().ping(sb[from]!, to)) assert.unreachable(`${what}: ${to} answered sandbox ${from}`);
  };
  const L = net('conf-local', 0, `10.${x}.10.1/24`);
  const O = net('conf-over', vni + 10, `10.${x}.11.1/24`);
  const O2 = net('conf-over2', vni + 11, `10.${x}.11.1/24`); // the same subnet in another network
  const mac = (n: number, host: number) => `02:42:0a:4d:${n.toString(16).padStart(2, '0')}:${host.toString(16).padStart(2, '0')}`;
  const ip = (n: number, host: number) => `10.${x}.${n}.${host}`;

  f.before(async () => {
    h = await makeHosts();
    for (const [k, on] of [['l1', h.a], ['l2', h.a], ['o1', h.a], ['o2', h.b], ['i1', h.a], ['sh', h.a]] as const) sb[k] = await h.sandbox(on, k);
  });
  f.after(async () => {
    await h?.close();
  });

  f('one host: ports of a local network switch frames; the gateway answers', async () => {
    const dp = H().a.dataPath;
    await dp.ensureNetwork(L);
    const before = total(dp.counters(L.id));
    const p1 = await dp.addPort({ network: L.id, endpointId: 'conf-l1', mac: mac(10, 2), ipv4: `${ip(10, 2)}/24`, ifname: 'wfcl1', dstName: 'eth0', netns: sb['l1']! });
    await dp.addPort({ network: L.id, endpointId: 'conf-l2', mac: mac(10, 3), ipv4: `${ip(10, 3)}/24`, ifname: 'wfcl2', dstName: 'eth0', netns: sb['l2']! });
    assert.type(p1.ifname, 'string');
    if (dp.portCount !== undefined) assert.is(dp.portCount(), 2);
    await pingOk('l1', ip(10, 3), 'local network');
    await pingOk('l2', ip(10, 2), 'local network, other way');
    await pingOk('l1', ip(10, 1), 'gateway');
    const after = dp.counters(L.id);
    assertCounters(after, 'after traffic');
    assert.ok(total(after) > before, `counters grew with traffic: ${JSON.stringify(after)}`);
    const again = await dp.addPort({ network: L.id, endpointId: 'conf-l1', mac: mac(10, 2), ipv4: `${ip(10, 2)}/24`, ifname: 'wfcl1', dstName: 'eth0', netns: sb['l1']! });
    assert.is(again.ifname, p1.ifname, 'addPort of an attached endpoint answers the same interface');
    if (dp.portCount !== undefined) assert.is(dp.portCount(), 2, 'and adds no port');
  });

  f('two instances: frames cross the underlay to a peer, both ways', async () => {
    const { a, b } = H();
    await a.dataPath.ensureNetwork(O);
    await b.dataPath.ensureNetwork(O);
    await a.dataPath.addPort({ network: O.id, endpointId: 'conf-o1', mac: mac(11, 2), ipv4: `${ip(11, 2)}/24`, ifname: 'wfco1', dstName: 'eth0', netns: sb['o1']! });
    await b.dataPath.addPort({ network: O.id, endpointId: 'conf-o2', mac: mac(11, 3), ipv4: `${ip(11, 3)}/24`, ifname: 'wfco2', dstName: 'eth0', netns: sb['o2']! });
    await pingFails('o1', ip(11, 3), 'before any peer is added');
    a.dataPath.addPeer({ network: O.id, mac: mac(11, 3), ipv4: ip(11, 3), vtep: b.vtep });
    b.dataPath.addPeer({ network: O.id, mac: mac(11, 2), ipv4: ip(11, 2), vtep: a.vtep });
    const before = total(b.dataPath.counters(O.id));
    await pingOk('o1', ip(11, 3), 'a to b');
    await pingOk('o2', ip(11, 2), 'b to a');
    assert.ok(total(b.dataPath.counters(O.id)) > before, 'the receiving instance counted the frames');
  });

  f('a namespace shared by ports (sharedNetns): each answers across the underlay, the others still after the first goes', async () => {
    const { a, b } = H();
    for (let i = 1; i <= 3; i++) {
      await a.dataPath.addPort({ network: O.id, endpointId: `conf-s${i}`, mac: mac(11, 20 + i), ipv4: `${ip(11, 20 + i)}/24`, ifname: `wfcs${i}`, dstName: `wb${i}`, netns: sb['sh']!, sharedNetns: true });
      b.dataPath.addPeer({ network: O.id, mac: mac(11, 20 + i), ipv4: ip(11, 20 + i), vtep: a.vtep });
    }
    for (let i = 1; i <= 3; i++) await pingOk('o2', ip(11, 20 + i), `shared-namespace port ${i} from the other instance`);
    // The first port made in the namespace goes (a data path that keeps the network's routes on one
    // port there must move them): the others keep answering.
    await a.dataPath.removePort(O.id, 'conf-s1');
    b.dataPath.removePeer(O.id, mac(11, 21));
    for (let i = 2; i <= 3; i++) await pingOk('o2', ip(11, 20 + i), `shared-namespace port ${i} after port 1 went`);
    for (let i = 2; i <= 3; i++) {
      await a.dataPath.removePort(O.id, `conf-s${i}`);
      b.dataPath.removePeer(O.id, mac(11, 20 + i));
    }
  });

  f('removePeer stops frames to it; addPeer brings them back', async () => {
    const { a, b } = H();
    a.dataPath.removePeer(O.id, mac(11, 3));
    await pingFails('o1', ip(11, 3), 'after removePeer');
    a.dataPath.addPeer({ network: O.id, mac: mac(11, 3), ipv4: ip(11, 3), vtep: b.vtep });
    await pingOk('o1', ip(11, 3), 'after addPeer again');
  });

  f('networks are apart: the same subnet in another network is not reachable', async () => {
    const { a } = H();
    await a.dataPath.ensureNetwork(O2);
    await a.dataPath.addPort({ network: O2.id, endpointId: 'conf-i1', mac: mac(11, 4), ipv4: `${ip(11, 4)}/24`, ifname: 'wfci1', dstName: 'eth0', netns: sb['i1']! });
    await pingFails('o1', ip(11, 4), 'from another network on the same host');
    await pingFails('i1', ip(11, 3), 'to a peer of another network');
    await pingOk('o1', ip(11, 3), 'its own network still works');
  });

  f('removePort stops frames to the endpoint; removeNetwork clears its counters', async () => {
    const { a, b } = H();
    await b.dataPath.removePort(O.id, 'conf-o2');
    if (b.dataPath.portCount !== undefined) assert.is(b.dataPath.portCount(), 0);
    await pingFails('o1', ip(11, 3), 'after removePort on the other instance');
    for (const [dp, n, eps] of [[a.dataPath, L, ['conf-l1', 'conf-l2']], [a.dataPath, O, ['conf-o1']], [a.dataPath, O2, ['conf-i1']], [b.dataPath, O, []]] as const) {
      for (const e of eps) await dp.removePort(n.id, e);
      await dp.removeNetwork(n.id);
      assert.equal(Object.keys(dp.counters(n.id)), [], `no counters for removed network ${n.id}`);
    }
    if (a.dataPath.portCount !== undefined) assert.is(a.dataPath.portCount(), 0);
  });

  f.run();
}

/**
 * `addPeer` refuses a VTEP of the other address family than the local underlay address, naming
 * the peer's node, both addresses and their families (@weft/net's vtepFamilyMismatch, raised by
 * each data path with its own code). `add` makes the call that must be refused.
 */
export function assertVtepFamilyRefused(add: () => unknown, o: { readonly node: string; readonly vtep: string; readonly vtepFamily: 4 | 6; readonly local: string; readonly localFamily: 4 | 6 }): void {
  try {
    add();
  } catch (e) {
    const msg = String((e as { error?: { message?: string } }).error?.message ?? e);
    assert.match(msg, `node "${o.node}"`);
    assert.match(msg, `${o.vtep} (IPv${o.vtepFamily})`);
    assert.match(msg, `${o.local} (IPv${o.localFamily})`);
    return;
  }
  assert.unreachable(`an IPv${o.vtepFamily} VTEP was accepted on an IPv${o.localFamily} underlay`);
}

/** One host of `connectPair`: its data path, its underlay address and the port made on it. */
export interface PairEnd<N extends DataPathNetwork = DataPathNetwork> {
  readonly dataPath: { ensureNetwork(net: N): Promise<unknown>; addPort(p: PortSpec): Promise<unknown>; addPeer(p: PeerSpec): void };
  /** This host's underlay address: the `vtep` of the peer entry the other host gets. */
  readonly vtep: string;
  /** The sandbox port made on this host (in the pair's network). */
  readonly port: Omit<PortSpec, 'network'>;
  /** More of the peer entry the other host gets for this port (node, name, VTEP port, data plane). */
  readonly peer?: Pick<PeerSpec, 'node' | 'name' | 'vtepPort' | 'dataplane'>;
}

/**
 * The two-host set-up of data-path tests and benches: `net` on both hosts, one port on each, and
 * each port a peer of the other host (its addresses without the prefix length, at the host's VTEP).
 */
export async function connectPair<N extends DataPathNetwork>(net: N, a: PairEnd<N>, b: PairEnd<N>): Promise<void> {
  await a.dataPath.ensureNetwork(net);
  await b.dataPath.ensureNetwork(net);
  await a.dataPath.addPort({ network: net.id, ...a.port });
  await b.dataPath.addPort({ network: net.id, ...b.port });
  a.dataPath.addPeer(peerOf(net.id, b));
  b.dataPath.addPeer(peerOf(net.id, a));
}

function peerOf(network: string, e: Pick<PairEnd, 'vtep' | 'port' | 'peer'>): PeerSpec {
  const bare = (cidr: string) => cidr.split('/')[0]!;
  const { mac, ipv4, ipv6 } = e.port;
  return { network, mac, ...(ipv4 !== undefined ? { ipv4: bare(ipv4) } : {}), ...(ipv6 !== undefined ? { ipv6: bare(ipv6) } : {}), vtep: e.vtep, ...e.peer };
}
