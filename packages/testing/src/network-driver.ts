/**
 * `testNetworkDriver`: the conformance suite every NetworkDriver plugin — ours and third
 * parties' — must pass. It drives the plugin through the kernel exactly as Docker drives a remote
 * driver (shared/specs/docker-plugin-protocol.md) and checks the answers Docker depends on.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { memoryStore, type CreateNetworkRequest, type Kernel, type PluginEntry, type Store } from '@weft/kernel';
import { err, kernelWith, ok, type PluginFactory } from './harness.ts';

export interface NetworkDriverSuiteOptions {
  /** Builds a fresh plugin instance. */
  readonly plugin: PluginFactory;
  /** Plugins the driver requires (services), loaded first. */
  readonly extra?: () => readonly PluginEntry[] | Promise<readonly PluginEntry[]>;
  readonly config?: unknown;
  /** The CreateNetwork request for network `id`; default: one IPv4 /24 with a gateway. */
  readonly network?: (id: string, index: number) => CreateNetworkRequest;
  /** SandboxKey to send in Join; default `/var/run/docker/netns/<12hex>`. */
  readonly sandboxKey?: (endpointId: string) => string;
  /** Undo side effects after each test (e.g. delete devices). */
  readonly cleanup?: () => Promise<void> | void;
}

const hex = (n: number, len = 64) => n.toString(16).padStart(len, '0');

export function testNetworkDriver(name: string, opts: NetworkDriverSuiteOptions): void {
  const s = suite(`NetworkDriver conformance: ${name}`);
  const defaultNet = (id: string, i: number): CreateNetworkRequest => ({
    NetworkID: id,
    Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': {} },
    IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: `10.251.${i}.0/24`, Gateway: `10.251.${i}.1/24`, AuxAddresses: {} }],
    IPv6Data: [],
  });
  const netReq = opts.network ?? defaultNet;
  const sandbox = opts.sandboxKey ?? ((e: string) => `/var/run/docker/netns/${e.slice(0, 12)}`);
  let store: Store;
  let k: Kernel;
  let plugin: string;
  const boot = async () => {
    const def = await opts.plugin();
    plugin = def.manifest.name;
    k = await kernelWith(def, { store, extra: (await opts.extra?.()) ?? [], config: opts.config });
  };
  const call = (m: string, input: unknown) => k.invoke(plugin, `NetworkDriver.${m}`, input);
  const addr = (i: number, host: number) => {
    const pool = netReq(hex(i), i).IPv4Data?.[0]?.Pool ?? `10.251.${i}.0/24`;
    const [base, len] = pool.split('/');
    const parts = base!.split('.').map(Number);
    return `${parts[0]}.${parts[1]}.${parts[2]}.${(parts[3] ?? 0) + host}/${len}`;
  };

  s.before.each(async () => {
    store = memoryStore();
    await boot();
  });
  s.after.each(async () => {
    await k.stop();
    await opts.cleanup?.();
  });

  s('GetCapabilities answers a scope Docker accepts', async () => {
    const caps = ok(await call('GetCapabilities', '')) as { Scope: string; ConnectivityScope?: string };
    assert.ok(caps.Scope === 'local' || caps.Scope === 'global', `Scope ${caps.Scope}`);
  });

  s('full lifecycle: create network, endpoint, join, oper info, leave, delete', async () => {
    const nid = hex(1);
    const eid = hex(0xe1);
    ok(await call('CreateNetwork', netReq(nid, 1)), 'CreateNetwork');
    const ce = ok(await call('CreateEndpoint', { NetworkID: nid, EndpointID: eid, Interface: { Address: addr(1, 2), AddressIPv6: '', MacAddress: '' }, Options: {} }), 'CreateEndpoint') as {
      Interface?: { Address?: string; MacAddress?: string };
    };
    // Docker: a driver may not change an address Docker supplied ("driver modified interface address").
    if (ce.Interface?.Address !== undefined && ce.Interface.Address !== '') assert.unreachable(`CreateEndpoint must not return an Address when Docker supplied one (got ${ce.Interface.Address})`);
    const j = ok(await call('Join', { NetworkID: nid, EndpointID: eid, SandboxKey: sandbox(eid), Options: {} }), 'Join') as {
      InterfaceName: { SrcName: string; DstPrefix: string };
      Gateway?: string;
    };
    assert.ok(j.InterfaceName.SrcName.length > 0 && j.InterfaceName.SrcName.length <= 15, `SrcName ${JSON.stringify(j.InterfaceName.SrcName)} must be a Linux interface name (1-15 chars)`);
    if (j.Gateway !== undefined && j.Gateway !== '') assert.not.match(j.Gateway, '/', 'Gateway must be a bare IP');
    const info = ok(await call('EndpointOperInfo', { NetworkID: nid, EndpointID: eid }), 'EndpointOperInfo') as { Value: unknown };
    assert.type(info.Value, 'object');
    ok(await call('Leave', { NetworkID: nid, EndpointID: eid }), 'Leave');
    ok(await call('DeleteEndpoint', { NetworkID: nid, EndpointID: eid }), 'DeleteEndpoint');
    ok(await call('DeleteNetwork', { NetworkID: nid }), 'DeleteNetwork');
  });

  s('unknown networks and endpoints are NotFound, not crashes', async () => {
    const nid = hex(2);
    const e1 = err(await call('CreateEndpoint', { NetworkID: hex(99), EndpointID: hex(1), Interface: { Address: addr(2, 5) } }), 'CreateEndpoint on unknown network');
    assert.is(e1.category, 'NotFound');
    ok(await call('CreateNetwork', netReq(nid, 2)));
    assert.is(err(await call('Join', { NetworkID: nid, EndpointID: hex(77), SandboxKey: sandbox(hex(77)) })).category, 'NotFound');
    assert.is(err(await call('DeleteEndpoint', { NetworkID: nid, EndpointID: hex(77) })).category, 'NotFound');
    assert.is(err(await call('DeleteNetwork', { NetworkID: hex(98) })).category, 'NotFound');
    ok(await call('DeleteNetwork', { NetworkID: nid }));
  });

  s('state lives in the store: a new kernel over the same store finds the endpoint', async () => {
    const nid = hex(3);
    const eid = hex(0xe3);
    ok(await call('CreateNetwork', netReq(nid, 3)));
    ok(await call('CreateEndpoint', { NetworkID: nid, EndpointID: eid, Interface: { Address: addr(3, 2) } }));
    await k.stop();
    await boot();
    ok(await call('Join', { NetworkID: nid, EndpointID: eid, SandboxKey: sandbox(eid) }), 'Join after restart');
    ok(await call('Leave', { NetworkID: nid, EndpointID: eid }));
    ok(await call('DeleteEndpoint', { NetworkID: nid, EndpointID: eid }));
    ok(await call('DeleteNetwork', { NetworkID: nid }));
  });

  s('concurrent endpoints get distinct interfaces', async () => {
    const nid = hex(4);
    ok(await call('CreateNetwork', netReq(nid, 4)));
    const ids = Array.from({ length: 12 }, (_, i) => hex(0x100 + i));
    await Promise.all(ids.map(async (eid, i) => ok(await call('CreateEndpoint', { NetworkID: nid, EndpointID: eid, Interface: { Address: addr(4, 10 + i) } }))));
    const joins = await Promise.all(ids.map(async (eid) => ok(await call('Join', { NetworkID: nid, EndpointID: eid, SandboxKey: sandbox(eid) })) as { InterfaceName: { SrcName: string } }));
    const names = new Set(joins.map((j) => j.InterfaceName.SrcName));
    assert.is(names.size, ids.length, 'every endpoint needs its own SrcName');
    await Promise.all(ids.map(async (eid) => { ok(await call('Leave', { NetworkID: nid, EndpointID: eid })); ok(await call('DeleteEndpoint', { NetworkID: nid, EndpointID: eid })); }));
    ok(await call('DeleteNetwork', { NetworkID: nid }));
  });

  s('malformed requests are BadRequest naming the field', async () => {
    const e = err(await call('CreateNetwork', { NetworkID: hex(5), IPv4Data: [{ Pool: 'not-a-cidr' }] }));
    assert.is(e.category, 'BadRequest');
    assert.is(e.path, 'IPv4Data[0].Pool');
  });

  s.run();
}
