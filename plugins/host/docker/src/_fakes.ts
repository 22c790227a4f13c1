/**
 * Test doubles for the unit tests: an in-memory control plane (the Network.* and Blocks.* methods
 * the plugin invokes, with the real contract names), in-memory tables, and a DockerHost that knows
 * network names without a dockerd. Hosts are kernels over a shared store map, so a "restart" is a
 * new kernel over the same map.
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import {
  createKernel,
  definePlugin,
  errors,
  formatError,
  memoryStore,
  method,
  raise,
  type Control,
  type Kernel,
  type PluginDefinition,
  type TableEntry,
  type Tables,
} from '@weft/kernel';
import { dataPathPlugin, recordingDataPath, type RecordingDataPath } from '@weft/testing';
import { overlayPlugin } from '@weft/overlay';
import { ipamPlugin } from '@weft/ipam';
import { dockerPlugin } from './plugin.ts';
import type { DockerPluginConfig } from './config.ts';
import type { ContainerLink, DockerHost } from './host.ts';

export interface FakeNetwork {
  Id: string;
  Name: string;
  Driver: string;
  Scope: 'swarm';
  Options: Record<string, string>;
  Labels: Record<string, string>;
  Attachable: boolean;
  Internal: boolean;
  Encrypted: boolean;
  EnableIPv6: boolean;
  Subnets: { Subnet: string; Gateway: string; AuxiliaryAddresses?: Record<string, string> }[];
  VNIs: number[];
  Created: string;
  Attachments: Record<string, string[]>;
}

export interface FakeControl {
  readonly networks: Map<string, FakeNetwork>;
  readonly blocks: Map<string, string[]>; // network → granted blocks
  readonly log: string[];
  plugin(): PluginDefinition;
  add(n: Partial<FakeNetwork> & { Name: string; Subnet: string }): FakeNetwork;
}

const any = t.unknown;
const m = (c: string, n: string) => method(c, n, any, any);

export function fakeControl(node = 'h1'): FakeControl {
  let pooled = 0;
  const networks = new Map<string, FakeNetwork>();
  const blocks = new Map<string, string[]>();
  const log: string[] = [];
  let seq = 0;
  const get = (ref: string): FakeNetwork => {
    const n = networks.get(ref) ?? [...networks.values()].find((x) => x.Name === ref);
    if (n === undefined) raise(errors.notFound('control', `network ${ref} not found`));
    return n;
  };
  const add: FakeControl['add'] = (o) => {
    if ([...networks.values()].some((n) => n.Name === o.Name)) raise(errors.conflict('control', `network with name ${o.Name} already exists`));
    const id = `${'n'.repeat(20)}${String(++seq).padStart(5, '0')}`;
    const gw = o.Subnets?.[0]?.Gateway ?? o.Subnet.replace(/\.0\/\d+$/, '.1');
    const n: FakeNetwork = {
      Id: id,
      Driver: 'overlay',
      Scope: 'swarm',
      Options: {},
      Labels: {},
      Attachable: true,
      Internal: false,
      Encrypted: false,
      EnableIPv6: false,
      Subnets: [{ Subnet: o.Subnet, Gateway: gw }],
      VNIs: [4096 + seq],
      Created: new Date(0).toISOString(),
      Attachments: {},
      ...o,
    };
    delete (n as Partial<{ Subnet: string }>).Subnet;
    n.Encrypted = 'encrypted' in n.Options;
    networks.set(id, n);
    return n;
  };
  /** The `control` service: the reads the plugin might make; swarm membership is not faked. */
  const notFaked = (what: string) => (): never => raise(errors.notImplemented('control', `the fake control plane has no ${what}`));
  const service: Control = {
    role: 'manager',
    nodeId: node,
    init: notFaked('swarm init'),
    join: notFaked('swarm join'),
    leave: notFaked('swarm leave'),
    joinToken: notFaked('join tokens'),
    info: notFaked('swarm info'),
    rotateKeys: notFaked('key ring'),
    gossipBootstrap: () => undefined,
    nodes: notFaked('nodes'),
    inspectNode: notFaked('nodes'),
    removeNode: notFaked('nodes'),
    promoteNode: notFaked('nodes'),
    demoteNode: notFaked('nodes'),
    clusterStore: () => undefined,
    isLeader: () => true,
    describeNode: async (id) => (id === undefined || id === node ? { ID: node, Name: node, Platform: { OS: 'linux', Architecture: 'x86_64' } } : undefined),
    createNetwork: notFaked('network create through the service'),
    removeNetwork: notFaked('network remove through the service'),
    networks: () => [...networks.values()],
    inspectNetwork: (ref) => get(ref),
    lookupNetwork: async (ref) => get(ref),
    findNetwork: (ref) => networks.get(ref) ?? [...networks.values()].find((x) => x.Name === ref),
    attach: notFaked('attach through the service'),
    detach: notFaked('detach through the service'),
    requestBlock: notFaked('block requests through the service'),
    releaseBlock: notFaked('block releases through the service'),
  };
  return {
    networks,
    blocks,
    log,
    add,
    plugin: () =>
      definePlugin({
        manifest: { name: 'control', version: '0.0.0', kernel: '*', provides: ['control', 'Network', 'Blocks'] },
        methods: ['List', 'Inspect', 'Create', 'Remove', 'Attach', 'Detach'].map((x) => m('Network', x)).concat([m('Blocks', 'Request'), m('Blocks', 'Release')]),
        services: { control: () => service },
        handlers: {
          Network: {
            List: () => [...networks.values()],
            Inspect: (i: { Network: string }) => get(i.Network),
            Create: (i: { Name: string; Options?: Record<string, string>; Internal?: boolean; Attachable?: boolean; EnableIPv6?: boolean; Labels?: Record<string, string>; IPAM?: { Config?: { Subnet: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> }[] } }) => {
              // Without a subnet, the next /24 of 10.0.0.0/8 (the swarm's default pool, as the real control plane).
              const configs = i.IPAM?.Config ?? [{ Subnet: `10.0.${++pooled}.0/24` }];
              const c = configs[0]!;
              const n = add({
                Name: i.Name,
                Subnet: c.Subnet,
                Subnets: configs.map((x) => ({ Subnet: x.Subnet, Gateway: x.Gateway ?? '', ...(x.AuxiliaryAddresses !== undefined ? { AuxiliaryAddresses: x.AuxiliaryAddresses } : {}) })),
                EnableIPv6: i.EnableIPv6 ?? false,
                Options: { ...(i.Options ?? {}) },
                Internal: i.Internal ?? false,
                Attachable: i.Attachable ?? false,
                Labels: i.Labels ?? {},
              });
              log.push(`create ${n.Name}`);
              return { Id: n.Id };
            },
            Remove: (i: { Network: string }) => {
              const n = get(i.Network);
              const users = Object.values(n.Attachments).flat();
              if (users.length > 0) raise(errors.conflict('control', `network ${n.Name} has active endpoints (${users.join(', ')})`));
              networks.delete(n.Id);
              log.push(`remove ${n.Name}`);
              return {};
            },
            Attach: (i: { Network: string; Sandbox: string }) => {
              const n = get(i.Network);
              n.Attachments[node] = [...(n.Attachments[node] ?? []), i.Sandbox];
              return n;
            },
            Detach: (i: { Network: string; Sandbox: string }) => {
              const n = get(i.Network);
              const left = (n.Attachments[node] ?? []).filter((s) => s !== i.Sandbox);
              if (left.length > 0) n.Attachments[node] = left;
              else delete n.Attachments[node];
              return n;
            },
          },
          Blocks: {
            Request: (i: { Network: string; Subnet: string }) => {
              const n = get(i.Network);
              const have = blocks.get(n.Id) ?? [];
              // /28 blocks of an IPv4 subnet, /124 blocks of an IPv6 one (as the manager's tables).
              const v6 = i.Subnet.includes(':');
              const base = i.Subnet.split('/')[0]!.split('.').map(Number);
              const block = v6 ? `${i.Subnet.split('/')[0]!.replace(/::$/, '::')}${(have.filter((b) => b.includes(':')).length * 16).toString(16)}/124`.replace('::0/124', '::/124') : `${base[0]}.${base[1]}.${base[2]}.${have.filter((b) => !b.includes(':')).length * 16}/28`;
              blocks.set(n.Id, [...have, block]);
              return { Block: block };
            },
            Release: (i: { Network: string; Block: string }) => {
              blocks.set(i.Network, (blocks.get(i.Network) ?? []).filter((b) => b !== i.Block));
              return {};
            },
          },
        },
      }),
  };
}

/** In-memory `tables`: enough for the overlay on one host. */
export function memoryTables(): PluginDefinition & { readonly joined: Set<string>; readonly rows: Map<string, TableEntry> } {
  const joined = new Set<string>();
  const rows = new Map<string, TableEntry>();
  const tables: Tables = {
    async joinNetwork(n) {
      joined.add(n);
    },
    async leaveNetwork(n) {
      joined.delete(n);
    },
    put(network, table, key, value) {
      rows.set(`${network}/${table}/${key}`, { network, table, key, value, owner: 'h1', lamport: 0, deleted: false, stale: false });
    },
    delete(network, table, key) {
      rows.delete(`${network}/${table}/${key}`);
    },
    get: (network, table, key) => rows.get(`${network}/${table}/${key}`),
    entries: (network, table) => [...rows.values()].filter((r) => r.network === network && r.table === table),
    peers: () => [],
  };
  const def = definePlugin({ manifest: { name: 'test-tables', version: '0.0.0', kernel: '*', provides: ['tables'] }, services: { tables: () => tables } });
  return Object.assign(def, { joined, rows });
}

export function fakeDockerHost(names: Record<string, string> = {}, containers: Record<string, string> = {}): DockerHost & { readonly links: Set<string>; readonly sandboxes: Map<string, Map<string, ContainerLink>> } {
  const links = new Set<string>();
  /** SandboxKey → MAC → the interface (the name Docker gave it; a TAP or a veth). */
  const sandboxes = new Map<string, Map<string, ContainerLink>>();
  return {
    links,
    sandboxes,
    linkByMac: (key, mac) => sandboxes.get(key)?.get(mac),
    stopDnsBridge: () => {},
    networkName: async (_h, id) => names[id],
    containerOf: async (_h, _n, ep) => containers[ep],
    linkExists: (n) => links.has(n),
    linkDelete: (n) => void links.delete(n),
  };
}

export interface TestHost {
  readonly k: Kernel;
  readonly dp: RecordingDataPath;
  readonly tables: ReturnType<typeof memoryTables>;
  /** `/Contract.Method` with a body, as Docker sends it; throws on an error. */
  call<T = any>(path: string, body?: unknown): Promise<T>;
  /** The error text Docker would show (`plugin: message hint`). */
  fail(path: string, body?: unknown): Promise<string>;
  stop(): Promise<void>;
}

/** One host: data path, tables, overlay, IPAM, control (fake) and the `weft` plugin over `backing`. */
export async function testHost(opts: { backing?: Map<string, Uint8Array>; control: FakeControl; config?: DockerPluginConfig; host?: DockerHost; encrypts?: boolean }): Promise<TestHost> {
  const dp = recordingDataPath();
  if (opts.encrypts === true) dp.encrypts = true;
  const tables = memoryTables();
  const k = createKernel({ store: memoryStore(opts.backing ?? new Map()) });
  const r = await k.load([
    { plugin: dataPathPlugin(dp) },
    { plugin: tables },
    // Only the overhead is read when a network is created; frames never flow in these tests.
    { plugin: definePlugin({ manifest: { name: 'test-cipher', version: '0.0.0', kernel: '*', provides: ['cipher'] }, services: { cipher: () => ({ backend: 'none', overhead: 36, setKeyRing() {}, session: () => raise(errors.internal('test-cipher', 'no sessions in unit tests')) }) } }) },
    { plugin: opts.control.plugin() },
    { plugin: ipamPlugin() },
    { plugin: overlayPlugin(), config: { vtep: '198.18.40.1', node: 'h1' } },
    { plugin: dockerPlugin({ host: opts.host ?? fakeDockerHost() }), config: opts.config ?? {} },
  ]);
  if (isLeft(r)) throw new Error(r.left.map(formatError).join('; '));
  const inv = (path: string, body: unknown) => k.invoke('weft', path.replace(/^\//, ''), body);
  return {
    k,
    dp,
    tables,
    async call(path, body = '') {
      const res = await inv(path, body);
      if (isLeft(res)) throw new Error(`${path} failed: ${formatError(res.left)}`);
      return res.right as never;
    },
    async fail(path, body = '') {
      const res = await inv(path, body);
      if (!isLeft(res)) throw new Error(`${path} should have failed but returned ${JSON.stringify(res.right)}`);
      return formatError(res.left);
    },
    stop: () => k.stop(),
  };
}
