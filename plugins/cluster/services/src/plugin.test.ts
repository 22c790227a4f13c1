/**
 * The services plugin through the kernel: three "nodes" (kernels) sharing one in-memory cluster
 * table, each with a fake engine. Placement, rescheduling on node death, replacement of killed
 * tasks, scaling, updates and removal — without namespaces.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, definePlugin, errors, memoryClusterStore, raise, type ClusterStore, type Control, type Engine, type Kernel, type NetDef, type RemoveCheck, type ServicesApi, type TableEntry, type Tables, type TaskOptions } from '@weft/kernel';
import type { Sandbox, SandboxCreateRequest, ServiceSpec } from '@weft/api';
// The real published-port forwarding (the engine provides the `ports` service in the agent).
import { createPorts } from '@weft/engine';
import { servicesPlugin } from './plugin.ts';
import type { VipSource } from './vips.ts';
import { vipRules, type Netfilter } from './balancer.ts';
import { encodeEndpointRecord } from '@weft/kernel';
import { planStack, deployStack, removeStack, listStacks } from './stack.ts';

// ---- a shared in-memory tables service (LWW by a global counter), events to every kernel
function sharedTables() {
  const rows = new Map<string, TableEntry>();
  const kernels: Kernel[] = [];
  let lamport = 0;
  const k = (n: string, t: string, key: string) => `${n}\u0000${t}\u0000${key}`;
  const forNode = (node: string): Tables => ({
    async joinNetwork() {},
    async leaveNetwork() {},
    put(network, table, key, value) {
      const e: TableEntry = { network, table, key, value, owner: node, lamport: ++lamport, deleted: false, stale: false };
      const had = rows.get(k(network, table, key));
      rows.set(k(network, table, key), e);
      for (const x of kernels) x.publish('table', { type: had === undefined || had.deleted ? 'create' : 'update', entry: e });
    },
    delete(network, table, key) {
      const had = rows.get(k(network, table, key));
      if (had === undefined || had.deleted) return;
      const e = { ...had, deleted: true, lamport: ++lamport };
      rows.set(k(network, table, key), e);
      for (const x of kernels) x.publish('table', { type: 'delete', entry: e });
    },
    get: (network, table, key) => rows.get(k(network, table, key)),
    entries: (network, table) => [...rows.values()].filter((e) => e.network === network && e.table === table && !e.deleted),
    peers: () => [],
  });
  return { rows, kernels, forNode };
}

const ports = createPorts();

// ---- a fake engine: sandboxes are records; "processes" can be killed
interface FakeEngine extends Engine {
  readonly boxes: Map<string, { req: SandboxCreateRequest; task?: TaskOptions; state: 'running' | 'exited' }>;
  /** Run while `sandboxes()` lists (something that happens while a node pass waits for the list). */
  whileListing?: (() => void) | undefined;
}
const NETS: NetDef[] = [
  { Id: 'n1id', Name: 'web', Driver: 'overlay', Scope: 'swarm', Options: {}, Labels: {}, Attachable: false, Internal: false, Encrypted: false, EnableIPv6: false, Subnets: [], VNIs: [4097], Created: '' },
  { Id: 'n2id', Name: 'lan', Driver: 'bridge', Scope: 'local', Options: {}, Labels: {}, Attachable: true, Internal: false, Encrypted: false, EnableIPv6: false, Subnets: [], VNIs: [], Created: '' },
];
function fakeEngine(nets: NetDef[]): FakeEngine {
  const boxes: FakeEngine['boxes'] = new Map();
  let ip = 2;
  const view = (name: string): Sandbox => {
    const b = boxes.get(name)!;
    const networks: Record<string, Sandbox['Networks'][string]> = {};
    for (const n of b.req.Networks ?? []) {
      const d = nets.find((x) => x.Id === n.Name || x.Name === n.Name);
      networks[d?.Name ?? n.Name] = { IPAddress: `10.0.0.${ip++}/24`, MacAddress: '', Aliases: n.Aliases ?? [], EndpointID: 'e', NetworkID: d?.Id ?? n.Name };
    }
    return { Name: name, Id: name, NetnsPath: `/run/netns/${name}`, Hostname: name, Cmd: b.req.Cmd ?? [], Pid: 1, State: b.state, ExitCode: null, Created: '', Networks: networks, Ports: [], ResolvConf: '', Image: b.req.Image ?? '', StartedAt: '', FinishedAt: '' } as Sandbox;
  };
  const resolve = async (ref: string) => nets.find((d) => d.Id === ref || d.Name === ref) ?? raise(errors.notFound('engine', `network "${ref}" not found`));
  const checks: RemoveCheck[] = [];
  const engine: FakeEngine = {
    boxes,
    async stopSandbox() {
      raise(errors.notImplemented('engine', 'stop is not used by the services plugin'));
    },
    async startSandbox() {
      return raise(errors.notImplemented('engine', 'start is not used by the services plugin'));
    },
    addRemoveCheck(c) {
      checks.push(c);
      return () => void checks.splice(checks.indexOf(c), 1);
    },
    async createSandbox(req, task) {
      if (boxes.has(req.Name)) raise(errors.conflict('engine', 'in use'));
      for (const n of req.Networks ?? []) {
        const d = await resolve(n.Name);
        if (!d.Attachable && task === undefined) raise(errors.forbidden('engine', 'not attachable'));
      }
      boxes.set(req.Name, { req, ...(task !== undefined ? { task } : {}), state: 'running' });
      return view(req.Name);
    },
    async removeSandbox(name) {
      if (!boxes.delete(name)) raise(errors.notFound('engine', `sandbox "${name}" not found`));
    },
    async sandboxes() {
      engine.whileListing?.();
      return [...boxes.keys()].map(view);
    },
    async sandbox(name) {
      if (!boxes.has(name)) raise(errors.notFound('engine', `sandbox "${name}" not found`));
      return view(name);
    },
    // Not used by the services plugin: a call fails the test.
    instantiated: () => raise(errors.notImplemented('fake-engine', 'instantiated')),
    networkView: () => raise(errors.notImplemented('fake-engine', 'networkView')),
    connect: () => raise(errors.notImplemented('fake-engine', 'connect')),
    disconnect: () => raise(errors.notImplemented('fake-engine', 'disconnect')),
    resolve,
    async listDefs() {
      return nets;
    },
    async createNetwork(req) {
      if (nets.some((d) => d.Name === req.Name)) raise(errors.conflict('engine', `network with name ${req.Name} already exists`));
      const d: NetDef = { ...NETS[0]!, Id: `id-${req.Name}`, Name: req.Name, Labels: req.Labels ?? {}, Internal: req.Internal ?? false, Attachable: req.Attachable ?? false, ...(req.Ingress === true ? { Ingress: true } : {}) };
      nets.push(d);
      return { Id: d.Id, Warning: '' };
    },
    async removeNetwork(ref) {
      for (const c of checks) await c(await resolve(ref));
      const i = nets.findIndex((d) => d.Id === ref || d.Name === ref);
      if (i >= 0) nets.splice(i, 1);
    },
  } as FakeEngine;
  return engine;
}

interface Node {
  readonly name: string;
  readonly kernel: Kernel;
  readonly engine: FakeEngine;
  readonly api: ServicesApi;
}

/**
 * The control plane's part in VIPs, faked: /28 blocks of 10.0.0.0/24 (block 0 belongs to "the
 * nodes"); networks with EnableIPv6 also have fd00::/64, in /124 blocks.
 */
function fakeVipSource(nets: NetDef[]) {
  const granted: string[] = [];
  const released: string[] = [];
  let next = 1;
  let next6 = 1;
  let down = false;
  let full = false;
  let releaseFails = 0;
  const source: VipSource = {
    networks: async () =>
      down
        ? undefined
        : nets.filter((d) => d.Scope === 'swarm').map((d) => ({ Id: d.Id, Name: d.Name, Subnets: [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }, ...(d.EnableIPv6 ? [{ Subnet: 'fd00::/64', Gateway: 'fd00::1' }] : [])] })),
    async requestBlock(network, subnet) {
      if (full) raise(errors.unavailable('control', `No free block left in pool "${subnet}"`));
      const b = subnet.includes(':') ? `fd00::${(16 * next6++).toString(16)}/124` : `10.0.0.${16 * next++}/28`;
      granted.push(`${network} ${b}`);
      return b;
    },
    async releaseBlock(network, block) {
      if (releaseFails > 0 && releaseFails--) raise(errors.unavailable('control', 'the manager is shutting down'));
      released.push(`${network} ${block}`);
    },
  };
  return { source, granted, released, setDown: (d: boolean) => void (down = d), setFull: (f: boolean) => void (full = f), failReleases: (n: number) => void (releaseFails = n) };
}

/** Rules applied per namespace path (the last ones), and how often the OUTPUT hook was asked for. */
function fakeNetfilter() {
  const rules = new Map<string, string>();
  const hooks = new Map<string, number>();
  const nf: Netfilter = {
    async apply(ns, r, hook, family = 4) {
      // IPv6 rules under `PATH#6`.
      const k = family === 6 ? `${ns}#6` : ns;
      rules.set(k, r);
      if (hook) hooks.set(k, (hooks.get(k) ?? 0) + 1);
    },
  };
  return { nf, rules, hooks };
}

/** The loopback address node `i` of a test cluster publishes ports on (several nodes share this host). */
const hostOf = (i: number) => `127.0.0.${i + 2}`;

/** A port number free for TCP and UDP on the loopback addresses of `nodes` nodes (fresh each call, so runs never collide). */
async function freePort(nodes = 3): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const s = net.createServer();
    const port = await new Promise<number>((resolve, reject) => {
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve((s.address() as net.AddressInfo).port));
    });
    await new Promise((r) => s.close(r));
    let ok = true;
    for (let n = 0; n < nodes && ok; n++) ok = (await ports.free(hostOf(n), port, 'tcp')) && (await ports.free(hostOf(n), port, 'udp'));
    if (ok) return port;
  }
  throw new Error('no free port on the loopback addresses after 50 tries');
}

async function cluster(names: string[], extra: { orphanGraceMs?: number } = {}) {
  const t = sharedTables();
  const ready = new Set(names);
  const nets = NETS.map((d) => ({ ...d }));
  const vip = fakeVipSource(nets);
  /** While down, the leader manages nothing (as while its agent restarts). */
  const leader = { down: false };
  const netfilter = fakeNetfilter();
  let seq = 0;
  const nodes: Node[] = [];
  /** Published ports the routing mesh could not listen on: a test fails on any (see stop). */
  const publishErrors: string[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-services-test-'));
  for (const [i, name] of names.entries()) {
    const kernel = createKernel();
    const engine = fakeEngine(nets);
    const r = await kernel.load([
      { plugin: definePlugin({ manifest: { name: 'fake-tables', version: '0.1.0', kernel: '^0.1.0', provides: ['tables'] }, services: { tables: () => t.forNode(name) } }) },
      { plugin: definePlugin({ manifest: { name: 'fake-engine', version: '0.1.0', kernel: '^0.1.0', provides: ['engine', 'ports'] }, services: { engine: () => engine, ports: () => ports } }) },
      {
        plugin: servicesPlugin({
          isManager: async () => name === names[0] && !leader.down,
          readyNodes: async () => names.filter((n) => ready.has(n)),
          nodeName: () => name,
          newId: () => `t${String(++seq).padStart(3, '0')}`,
          vipSource: () => vip.source,
          netfilter: netfilter.nf,
          onPublishError: (e) => void publishErrors.push(`${name}: ${e.service} ${e.port}: ${e.error.message}`),
        }),
        // Each node listens on its own loopback address (never on every interface).
        config: { intervalMs: 60_000, runDir: path.join(dir, name), publishHost: hostOf(i), ...extra },
      },
    ]);
    if (isLeft(r)) throw new Error(JSON.stringify(r.left));
    t.kernels.push(kernel);
    nodes.push({ name, kernel, engine, api: kernel.service('services')! });
  }
  /** Reconcile until nothing changes (manager first, then every node). */
  const settle = async () => {
    for (let i = 0; i < 6; i++) for (const n of nodes) if (ready.has(n.name)) await n.api.reconcile();
  };
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.kernel.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
    if (publishErrors.length > 0) throw new Error(`the routing mesh could not listen on published ports:\n${publishErrors.join('\n')}`);
  };
  return { nodes, ready, settle, stop, tables: t, nets, vip, netfilter, leader, publishErrors };
}

const spec = (name: string, replicas: number, extra: Partial<ServiceSpec> = {}): ServiceSpec => ({
  Name: name,
  TaskTemplate: { ContainerSpec: { Command: ['sleep', '1000'] }, Networks: [{ Target: 'web', Aliases: ['www'] }] },
  Mode: { Replicated: { Replicas: replicas } },
  ...extra,
});
/** Running task sandboxes per node (routing-mesh helpers, which have no service, are not tasks). */
const running = (c: { nodes: Node[] }) => c.nodes.map((n) => [...n.engine.boxes.values()].filter((b) => b.state === 'running' && b.task?.service !== '').length);

test('create: tasks spread over the ready nodes, as service tasks on a non-attachable network', async () => {
  const c = await cluster(['m', 'a', 'b']);
  try {
    const m = c.nodes[0]!.api;
    const r = await m.create(spec('api', 3, { EndpointSpec: { Mode: 'dnsrr' } }));
    assert.equal(r.Warnings, []);
    await c.settle();
    assert.equal(running(c), [1, 1, 1]);
    const box = [...c.nodes[1]!.engine.boxes.entries()][0]!;
    assert.match(box[0], /^api\.\d\.t\d+$/);
    assert.equal(box[1].task, { service: 'api', slot: box[1].task!.slot, endpointMode: 'dnsrr' });
    assert.equal(box[1].req.Networks, [{ Name: 'n1id', Aliases: ['www'] }]);
    const tasks = await m.tasks({ service: ['api'] });
    assert.equal(tasks.map((x) => x.Status.State), ['running', 'running', 'running']);
    assert.equal(tasks.map((x) => x.Slot).sort(), [1, 2, 3]);
    assert.equal((await m.get('api')).ServiceStatus, { RunningTasks: 3, DesiredTasks: 3 });
    const w = await m.create(spec('v', 1));
    assert.equal(w.Warnings, [], 'vip mode is served: no warning');
  } finally {
    await c.stop();
  }
});

test('create: bad names, no command, unknown or local networks, duplicates are refused', async () => {
  const c = await cluster(['m']);
  try {
    const m = c.nodes[0]!.api;
    const fails = async (s: ServiceSpec, re: RegExp) => {
      try {
        await m.create(s);
      } catch (e) {
        assert.match(String((e as Error).message), re);
        return;
      }
      assert.unreachable(`accepted ${JSON.stringify(s)}`);
    };
    await fails(spec('bad.name', 1), /invalid service name/);
    await fails({ ...spec('x', 1), TaskTemplate: { ContainerSpec: { Command: [] } } }, /no command/);
    await fails({ ...spec('x', 1), TaskTemplate: { ContainerSpec: { Command: ['true'] }, Networks: [{ Target: 'nope' }] } }, /nope not found/);
    await fails({ ...spec('x', 1), TaskTemplate: { ContainerSpec: { Command: ['true'] }, Networks: [{ Target: 'lan' }] } }, /local-scope/);
    await m.create(spec('x', 1));
    await fails(spec('x', 1), /already exists/);
  } finally {
    await c.stop();
  }
});

test('a worker refuses service calls (not the leader)', async () => {
  const c = await cluster(['m', 'a']);
  try {
    try {
      await c.nodes[1]!.api.list();
      assert.unreachable();
    } catch (e) {
      assert.match((e as Error).message, /not a swarm manager|not the swarm leader/);
    }
  } finally {
    await c.stop();
  }
});

test('a killed task is reported failed and replaced; history kept', async () => {
  const c = await cluster(['m', 'a', 'b']);
  try {
    const m = c.nodes[0]!.api;
    await m.create(spec('api', 3));
    await c.settle();
    const a = c.nodes[1]!;
    const [name, box] = [...a.engine.boxes.entries()][0]!;
    box.state = 'exited';
    await c.settle();
    assert.equal(running(c), [1, 1, 1]);
    assert.not.ok(a.engine.boxes.has(name), 'the dead sandbox is removed');
    const tasks = await m.tasks({ service: ['api'] });
    assert.equal(tasks.filter((x) => x.DesiredState === 'running' && x.Status.State === 'running').length, 3);
    const old = tasks.find((x) => x.Name === name)!;
    assert.equal([old.DesiredState, old.Status.State, old.Status.Err], ['shutdown', 'failed', 'task exited']);
  } finally {
    await c.stop();
  }
});

test('a leader restart restarts no task: assignments forgotten without a tombstone are kept for a grace, deleted ones go at once', async () => {
  const c = await cluster(['m', 'a'], { orphanGraceMs: 300 });
  try {
    const m = c.nodes[0]!.api;
    await m.create(spec('api', 2));
    await c.settle();
    const a = c.nodes[1]!;
    const [name] = [...a.engine.boxes.keys()];
    assert.ok(name !== undefined);
    // The leader stops and leaves gossip: every node forgets its entries, no tombstones.
    c.leader.down = true;
    for (const [k, e] of c.tables.rows) if (e.network === '_cluster' && e.table === 'tasks') c.tables.rows.delete(k);
    await a.api.reconcile();
    assert.ok(a.engine.boxes.has(name!), 'kept while the assignment may come back');
    assert.equal(c.tables.forNode('x').entries('_cluster', 'task-status').filter((e) => e.owner === 'a').length, 1, 'and its status too');
    // The leader is back: it republishes, the node carries on with the same sandbox.
    c.leader.down = false;
    await c.settle();
    assert.ok(a.engine.boxes.has(name!));
    // Gone for longer than the grace with no manager publishing: removed.
    c.leader.down = true;
    for (const [k, e] of c.tables.rows) if (e.network === '_cluster' && e.table === 'tasks') c.tables.rows.delete(k);
    await a.api.reconcile();
    await new Promise((r) => setTimeout(r, 350));
    await a.api.reconcile();
    assert.not.ok(a.engine.boxes.has(name!), 'removed after the grace');
    // The leader's entries vanish again and come back while the node lists its sandboxes: what it
    // read before the list (no assignment) and after it (an entry) is not taken for a task moved
    // elsewhere; the sandbox is kept, not removed and made again.
    c.leader.down = false;
    await c.settle();
    const [again] = [...a.engine.boxes.keys()];
    assert.ok(again !== undefined);
    const saved = [...c.tables.rows.values()].filter((e) => e.network === '_cluster' && e.table === 'tasks');
    for (const [k, e] of c.tables.rows) if (e.network === '_cluster' && e.table === 'tasks') c.tables.rows.delete(k);
    a.engine.whileListing = () => {
      a.engine.whileListing = undefined;
      for (const e of saved) c.tables.forNode('m').put(e.network, e.table, e.key, e.value);
    };
    const made: string[] = [];
    const create = a.engine.createSandbox.bind(a.engine);
    a.engine.createSandbox = (req, task) => (made.push(req.Name), create(req, task));
    await a.api.reconcile();
    await a.api.reconcile();
    assert.equal(made, [], 'no sandbox made again');
    assert.ok(a.engine.boxes.has(again!), 'the same sandbox, running');
  } finally {
    await c.stop();
  }
});

test('node death: its tasks are rescheduled on the ready nodes', async () => {
  const c = await cluster(['m', 'a', 'b']);
  try {
    const m = c.nodes[0]!.api;
    await m.create(spec('api', 3));
    await c.settle();
    c.ready.delete('b');
    await c.settle();
    const live = (await m.tasks({ service: ['api'], 'desired-state': ['running'] })).map((x) => x.NodeID).sort();
    assert.equal(live.length, 3, 'three tasks');
    assert.not.ok(live.includes('b'));
    assert.equal(new Set(live), new Set(['a', 'm']), 'spread over the two ready nodes');
    const orphan = (await m.tasks({ service: ['api'] })).find((x) => x.NodeID === 'b')!;
    assert.equal([orphan.DesiredState, orphan.Status.State], ['shutdown', 'orphaned']);
  } finally {
    await c.stop();
  }
});

test('scale up and down, update networks, remove: the nodes follow', async () => {
  const c = await cluster(['m', 'a', 'b']);
  try {
    const m = c.nodes[0]!.api;
    const { ID } = await m.create(spec('api', 2));
    await c.settle();
    assert.equal(running(c).reduce((x, y) => x + y), 2);
    let s = await m.get(ID);
    await m.update(ID, s.Version.Index, { ...s.Spec, Mode: { Replicated: { Replicas: 5 } } });
    await c.settle();
    assert.equal(running(c).reduce((x, y) => x + y), 5);
    assert.ok(Math.max(...running(c)) - Math.min(...running(c)) <= 1, `spread ${running(c)}`);
    s = await m.get(ID);
    try {
      await m.update(ID, s.Version.Index - 1, s.Spec);
      assert.unreachable();
    } catch (e) {
      assert.match((e as Error).message, /out of sequence/);
    }
    await m.update(ID, s.Version.Index, { ...s.Spec, Mode: { Replicated: { Replicas: 1 } } });
    await c.settle();
    assert.equal(running(c).reduce((x, y) => x + y), 1);
    s = await m.get(ID);
    await m.update(ID, s.Version.Index, { ...s.Spec, TaskTemplate: { ...s.Spec.TaskTemplate, Networks: [] } });
    await c.settle();
    const box = c.nodes.flatMap((n) => [...n.engine.boxes.values()]);
    assert.equal(box.length, 1);
    assert.equal(box[0]!.req.Networks, [], 'the task was replaced without the network');
    await m.remove('api');
    await c.settle();
    assert.equal(running(c), [0, 0, 0]);
    assert.equal(c.tables.forNode('x').entries('_cluster', 'tasks'), []);
    assert.equal(c.tables.forNode('x').entries('_cluster', 'task-status'), []);
  } finally {
    await c.stop();
  }
});

test('vip: one VIP per (service, network) from the network pool; tasks carry it; freed on rm, dnsrr and network removal', async () => {
  const c = await cluster(['m', 'a', 'b']);
  try {
    const m = c.nodes[0]!.api;
    await m.create(spec('api', 3));
    await m.create(spec('web2', 1));
    await c.settle();
    assert.equal((await m.get('api')).Endpoint?.VirtualIPs, [{ NetworkID: 'n1id', Addr: '10.0.0.16/24' }]);
    assert.equal((await m.get('web2')).Endpoint?.VirtualIPs, [{ NetworkID: 'n1id', Addr: '10.0.0.17/24' }], 'the next free address of the same block');
    assert.equal(c.vip.granted, ['n1id 10.0.0.16/28'], 'one block serves both');
    const boxes = c.nodes.flatMap((n) => [...n.engine.boxes.values()]).filter((b) => b.task?.service === 'api');
    assert.equal(boxes.length, 3);
    for (const b of boxes) assert.equal(b.task!.vips, { n1id: '10.0.0.16' }, 'each task publishes the VIP in its endpoint record');
    // The control plane cannot list networks for a moment: nothing is freed.
    c.vip.setDown(true);
    await c.settle();
    assert.equal((await m.get('api')).Endpoint?.VirtualIPs?.length, 1);
    c.vip.setDown(false);
    // rm frees the address (reused next), dnsrr frees it, and an empty block is given back.
    await m.remove('web2');
    await c.settle();
    await m.create(spec('web3', 1));
    assert.equal((await m.get('web3')).Endpoint?.VirtualIPs, [{ NetworkID: 'n1id', Addr: '10.0.0.17/24' }]);
    let s = await m.get('web3');
    await m.update('web3', s.Version.Index, { ...s.Spec, EndpointSpec: { Mode: 'dnsrr' } });
    assert.equal((await m.get('web3')).Endpoint?.VirtualIPs, []);
    c.vip.failReleases(1);
    await m.remove('api');
    assert.equal(c.vip.released, [], 'the control plane failed to take the block back');
    await c.settle();
    assert.equal(c.vip.released, ['n1id 10.0.0.16/28'], 'given back on a later pass');
    // The network goes: its VIPs go with it.
    await m.create(spec('api', 1));
    assert.equal((await m.get('api')).Endpoint?.VirtualIPs?.length, 1);
    c.nets.splice(c.nets.findIndex((d) => d.Id === 'n1id'), 1);
    await c.settle();
    assert.equal((await m.get('api')).Endpoint?.VirtualIPs, []);
    assert.equal(c.tables.forNode('x').entries('_cluster', 'vips'), []);
    // A full subnet: the service is created, the response says it has no VIP and what to do.
    c.nets.push({ ...NETS[0]!, Id: 'n3id', Name: 'full' });
    c.vip.setFull(true);
    const r = await m.create({ ...spec('nov', 1), TaskTemplate: { ContainerSpec: { Command: ['x'] }, Networks: [{ Target: 'full' }] } });
    assert.match(r.Warnings.join(), /service nov: no virtual IP on network full \(No free block left in pool "10\.0\.0\.0\/24"\).*--endpoint-mode dnsrr/);
    assert.equal((await m.get('nov')).Endpoint?.VirtualIPs, []);
    c.vip.setFull(false);
    await c.settle();
    assert.equal((await m.get('nov')).Endpoint?.VirtualIPs?.length, 1, 'allocated once a block is free');
  } finally {
    await c.stop();
  }
});

test('vip load balancing: every sandbox on the network gets DNAT to the healthy tasks, updated as records come and go', async () => {
  const c = await cluster(['m', 'a', 'b']);
  try {
    const m = c.nodes[0]!.api;
    await m.create(spec('api', 3));
    await c.settle();
    const tb = c.tables.forNode('x');
    // The overlay publishes each task's endpoint record; here the test does.
    const tasks = c.nodes.flatMap((n) => [...n.engine.boxes.entries()].map(([name, b]) => ({ node: n.name, name, b }))).filter((x) => x.b.task?.service === 'api');
    tasks.forEach((x, i) => tb.put('n1id', 'endpoints', `ep${i}`, encodeEndpointRecord({ name: x.name, ipv4: `10.0.0.${100 + i}/24`, mac: '02:00:00:00:00:01', vtep: '198.18.0.1', node: x.node, service: 'api', serviceVip: '10.0.0.16', endpointMode: 'vip', taskSlot: i + 1 })));
    await c.settle();
    for (const x of tasks) {
      const r = c.netfilter.rules.get(`/run/netns/${x.name}`) ?? '';
      assert.match(r, /-A WEFT-VIP -d 10\.0\.0\.16\/32 -m statistic --mode random --probability 0\.3333333333 -j DNAT --to-destination 10\.0\.0\.100\n/);
      assert.match(r, /--probability 0\.5000000000 -j DNAT --to-destination 10\.0\.0\.101\n/);
      assert.match(r, /-A WEFT-VIP -d 10\.0\.0\.16\/32 -j DNAT --to-destination 10\.0\.0\.102\n/);
      assert.equal(c.netfilter.hooks.get(`/run/netns/${x.name}`), 1, 'the OUTPUT jump is made once');
    }
    // A task's record goes: every node's rules drop it at the next pass.
    tb.delete('n1id', 'endpoints', 'ep1');
    await c.settle();
    for (const x of tasks.filter((_, i) => i !== 1)) {
      const r = c.netfilter.rules.get(`/run/netns/${x.name}`) ?? '';
      assert.not.match(r, /10\.0\.0\.101/, `${x.name} still balances to the removed task`);
      assert.match(r, /--probability 0\.5000000000 -j DNAT --to-destination 10\.0\.0\.100\n/);
    }
    // No task left: the VIP rejects (no DNAT rule).
    tb.delete('n1id', 'endpoints', 'ep0');
    tb.delete('n1id', 'endpoints', 'ep2');
    await c.settle();
    const r = c.netfilter.rules.get(`/run/netns/${tasks[0]!.name}`) ?? '';
    assert.not.match(r, /DNAT/);
    assert.match(r, /-A WEFT-VIP -d 10\.0\.0\.16\/32 -p tcp -j REJECT --reject-with tcp-reset/);
    // A plain sandbox on the network (weft run) is programmed too.
    await c.nodes[1]!.engine.createSandbox({ Name: 'client', Networks: [{ Name: 'n1id' }] }, { service: '', slot: 0, endpointMode: 'dnsrr' });
    tb.put('n1id', 'endpoints', 'ep9', encodeEndpointRecord({ name: 'x', ipv4: '10.0.0.109/24', mac: '02:00:00:00:00:01', vtep: '198.18.0.1', node: 'b', service: 'api', serviceVip: '10.0.0.16', endpointMode: 'vip', taskSlot: 1 }));
    await c.settle();
    assert.match(c.netfilter.rules.get('/run/netns/client') ?? '', /-d 10\.0\.0\.16\/32 -j DNAT --to-destination 10\.0\.0\.109\n/);
  } finally {
    await c.stop();
  }
});

test('vip over IPv6: a dual-stack network gives the service an IPv6 VIP too (inspect shows both, tasks carry both, freed with the v4 one); IPv6 DNAT over the tasks\' IPv6 addresses', async () => {
  const c = await cluster(['m', 'a', 'b']);
  try {
    c.nets.push({ ...NETS[0]!, Id: 'dsid', Name: 'ds', EnableIPv6: true });
    const m = c.nodes[0]!.api;
    const onDs = (name: string, n: number): ServiceSpec => ({ ...spec(name, n), TaskTemplate: { ContainerSpec: { Command: ['x'] }, Networks: [{ Target: 'ds' }] } });
    await m.create(onDs('api', 2));
    await m.create(spec('v4only', 1));
    await c.settle();
    assert.equal((await m.get('api')).Endpoint?.VirtualIPs, [
      { NetworkID: 'dsid', Addr: '10.0.0.16/24' },
      { NetworkID: 'dsid', Addr: 'fd00::10/64' },
    ]);
    assert.equal((await m.get('v4only')).Endpoint?.VirtualIPs?.length, 1, 'an IPv4-only network: one VIP');
    assert.equal(c.vip.granted.sort(), ['dsid 10.0.0.16/28', 'dsid fd00::10/124', 'n1id 10.0.0.32/28'].sort());
    const tasks = c.nodes.flatMap((n) => [...n.engine.boxes.entries()].map(([name, b]) => ({ node: n.name, name, b }))).filter((x) => x.b.task?.service === 'api');
    assert.equal(tasks.length, 2);
    for (const x of tasks) {
      assert.equal(x.b.task!.vips, { dsid: '10.0.0.16' });
      assert.equal(x.b.task!.vips6, { dsid: 'fd00::10' }, 'each task publishes the IPv6 VIP in its endpoint record');
    }
    // The balancer: IPv6 DNAT to the tasks' IPv6 addresses, IPv4 to their IPv4 ones.
    const tb = c.tables.forNode('x');
    tasks.forEach((x, i) => tb.put('dsid', 'endpoints', `ep${i}`, encodeEndpointRecord({ name: x.name, ipv4: `10.0.0.${100 + i}/24`, ipv6: `fd00::${100 + i}/64`, mac: '02:00:00:00:00:01', vtep: '198.18.0.1', node: x.node, service: 'api', serviceVip: '10.0.0.16', serviceVip6: 'fd00::10', endpointMode: 'vip', taskSlot: i + 1 })));
    await c.settle();
    for (const x of tasks) {
      const r6 = c.netfilter.rules.get(`/run/netns/${x.name}#6`) ?? '';
      assert.match(r6, /-A WEFT-VIP -d fd00::10\/128 -m statistic --mode random --probability 0\.5000000000 -j DNAT --to-destination fd00::100\n/);
      assert.match(r6, /-A WEFT-VIP -d fd00::10\/128 -j DNAT --to-destination fd00::101\n/);
      assert.match(r6, /-A WEFT-VIP -d fd00::10\/128 -j REJECT --reject-with icmp6-port-unreachable/);
      assert.not.match(r6, /10\.0\.0/, 'no IPv4 in the IPv6 rules');
      assert.equal(c.netfilter.hooks.get(`/run/netns/${x.name}#6`), 1, 'the ip6tables OUTPUT jump is made once');
      const r4 = c.netfilter.rules.get(`/run/netns/${x.name}`) ?? '';
      assert.match(r4, /-d 10\.0\.0\.16\/32 -m statistic --mode random --probability 0\.5000000000 -j DNAT --to-destination 10\.0\.0\.100\n/);
      assert.not.match(r4, /fd00/, 'no IPv6 in the IPv4 rules');
    }
    // dnsrr drops both VIPs; the IPv6 rules are emptied (rejecting nothing) and both blocks go back.
    const s = await m.get('api');
    await m.update('api', s.Version.Index, { ...s.Spec, EndpointSpec: { Mode: 'dnsrr' } });
    await c.settle();
    assert.equal((await m.get('api')).Endpoint?.VirtualIPs, []);
    assert.equal(c.vip.released.sort(), ['dsid 10.0.0.16/28', 'dsid fd00::10/124']);
    // Back to vip: the same addresses again.
    const s2 = await m.get('api');
    await m.update('api', s2.Version.Index, { ...s2.Spec, EndpointSpec: { Mode: 'vip' } });
    await c.settle();
    assert.equal((await m.get('api')).Endpoint?.VirtualIPs?.map((v) => v.Addr), ['10.0.0.48/24', 'fd00::20/64'], 'new blocks, first addresses');
  } finally {
    await c.stop();
  }
});

test('vipRules: probabilities 1/(n-i), the last unconditional; every VIP rejects when nothing is left after NAT', () => {
  const r = vipRules([{ vip: '10.1.0.9', targets: ['10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5'] }, { vip: '10.1.0.8', targets: [] }]);
  assert.equal(r.split('\n'), [
    '*nat',
    ':WEFT-VIP - [0:0]',
    '-A WEFT-VIP -d 10.1.0.9/32 -m statistic --mode random --probability 0.2500000000 -j DNAT --to-destination 10.1.0.2',
    '-A WEFT-VIP -d 10.1.0.9/32 -m statistic --mode random --probability 0.3333333333 -j DNAT --to-destination 10.1.0.3',
    '-A WEFT-VIP -d 10.1.0.9/32 -m statistic --mode random --probability 0.5000000000 -j DNAT --to-destination 10.1.0.4',
    '-A WEFT-VIP -d 10.1.0.9/32 -j DNAT --to-destination 10.1.0.5',
    'COMMIT',
    '*filter',
    ':WEFT-VIP - [0:0]',
    '-A WEFT-VIP -d 10.1.0.8/32 -p tcp -j REJECT --reject-with tcp-reset',
    '-A WEFT-VIP -d 10.1.0.8/32 -j REJECT --reject-with icmp-port-unreachable',
    '-A WEFT-VIP -d 10.1.0.9/32 -p tcp -j REJECT --reject-with tcp-reset',
    '-A WEFT-VIP -d 10.1.0.9/32 -j REJECT --reject-with icmp-port-unreachable',
    'COMMIT',
    '',
  ]);
});

test('stacks: compose → prefixed networks and services, labels, warnings; ls, rm', async () => {
  const c = await cluster(['m', 'a']);
  const port = await freePort(2);
  try {
    const m = c.nodes[0]!.api;
    const compose = `
version: "3.8"
services:
  web:
    image: nginx
    command: ["sleep", "1000"]
    networks: [frontend]
  app:
    command: sleep 1000
    deploy: { replicas: 2, endpoint_mode: dnsrr }
    networks:
      frontend: { aliases: [application] }
      backend: {}
    ports: ["${port}:80/udp"]
  db:
    command: sleep 1000
    networks: [backend]
    healthcheck: { test: true }
networks:
  frontend: { driver: overlay, attachable: true, labels: { tier: front } }
  backend:
    driver: overlay
    internal: true
    driver_opts: { encrypted: "" }
    ipam: { config: [{ subnet: 10.77.0.0/24 }] }
`;
    const r = await deployStack(m, 'shop', [compose]);
    assert.equal(r.Services, ['shop_web', 'shop_app', 'shop_db']);
    assert.equal(r.Networks, ['shop_frontend', 'shop_backend']);
    const w = (r.Warnings ?? []).join('\n');
    assert.match(w, /services\.web\.image "nginx" is not run/);
    assert.match(w, /healthcheck is not supported/);
    assert.not.match(w, new RegExp(String(port)), 'a UDP port in ingress mode is served (no warning)');
    const back = c.nets.find((d) => d.Name === 'shop_backend')!;
    assert.equal(back.Labels['com.docker.stack.namespace'], 'shop');
    assert.ok(back.Internal);
    await c.settle();
    assert.equal(running(c).reduce((x, y) => x + y), 4);
    const helpers = c.nodes.map((n) => [...n.engine.boxes.values()].filter((b) => b.task?.service === '').map((b) => b.req.Cmd!.at(-1)));
    assert.equal(helpers.map((h) => h.length), [1, 1], 'app publishes a UDP port: a mesh helper on every node');
    assert.match(String(helpers[0]![0]), new RegExp(`${port}\\.udp\\.sock=80/udp$`));
    assert.equal(await listStacks(m), [{ Name: 'shop', Services: 3, Networks: 2 }]);
    const tasks = await m.tasks({ label: ['com.docker.stack.namespace=shop'] });
    assert.equal(tasks.length, 4);
    const app = c.nodes.flatMap((n) => [...n.engine.boxes.values()]).find((b) => b.task?.service === 'shop_app')!;
    assert.equal(app.req.Networks, [{ Name: 'id-shop_frontend', Aliases: ['app', 'application'] }, { Name: 'id-shop_backend', Aliases: ['app'] }, { Name: 'id-ingress', Aliases: [] }], 'it publishes a port: ingress too, last');
    assert.equal(app.task!.endpointMode, 'dnsrr');
    const settler = setInterval(() => void c.settle(), 20);
    try {
      await removeStack(m, 'shop', 5000);
    } finally {
      clearInterval(settler);
    }
    assert.equal(running(c), [0, 0]);
    assert.equal(c.nets.filter((d) => d.Name.startsWith('shop_')), []);
    assert.equal(c.nets.filter((d) => d.Ingress === true).map((d) => d.Name), ['ingress'], 'the ingress network stays (as in Docker)');
    assert.equal(await listStacks(m), []);
  } finally {
    await c.stop();
  }
});

test('published ports: published port required, a network required, conflicts refused', async () => {
  const c = await cluster(['m']);
  const p1 = await freePort(1);
  let p3 = await freePort(1);
  while (p3 === p1) p3 = await freePort(1);
  try {
    const m = c.nodes[0]!.api;
    const ports = (p: number | undefined) => ({ EndpointSpec: { Ports: [{ Protocol: 'tcp' as const, TargetPort: 80, PublishMode: 'ingress' as const, ...(p !== undefined ? { PublishedPort: p } : {}) }] } });
    const err = (p: Promise<unknown>) => p.then(() => '(no error)', (e: Error) => e.message);
    assert.match(await err(m.create(spec('a', 1, ports(undefined)))), /give the published port/);
    assert.match(await err(m.create({ ...spec('a', 1, ports(p1)), TaskTemplate: { ContainerSpec: { Command: ['x'] } } })), /on no network/);
    // Replicas 0: nothing runs, but the port is taken (the routing mesh listens on it all the same).
    await m.create(spec('a', 0, ports(p1)));
    assert.match(await err(m.create(spec('b', 0, ports(p1)))), new RegExp(`port ${p1}/tcp is already published by service a`));
    // The same number in UDP is another port; twice in one service is refused.
    const udp = (p: number) => ({ Protocol: 'udp' as const, TargetPort: 53, PublishMode: 'ingress' as const, PublishedPort: p });
    await m.create(spec('u', 0, { EndpointSpec: { Ports: [udp(p1)] } }));
    assert.match(await err(m.create(spec('v', 0, { EndpointSpec: { Ports: [udp(18081), udp(18081)] } }))), /publishes port 18081\/udp twice/);
    assert.match(await err(m.create(spec('v', 0, { EndpointSpec: { Ports: [udp(70000)] } }))), /70000:53\/udp .*1 to 65535/);
    // Mode host is taken only where a task runs, but never where the routing mesh already listens.
    const host = await m.create(spec('h', 0, { EndpointSpec: { Ports: [{ ...udp(18082), PublishMode: 'host' }] } }));
    assert.equal(host.Warnings, []);
    assert.match(await err(m.create(spec('hi', 0, { EndpointSpec: { Ports: [udp(18082)] } }))), /port 18082\/udp is already published by service h/);
    assert.match(await err(m.create(spec('ih', 0, { EndpointSpec: { Ports: [{ ...udp(p1), PublishMode: 'host' }] } }))), new RegExp(`port ${p1}/udp is already published by service u`));
    // The mesh table carries the protocol of UDP ports only.
    await m.create(spec('w', 1, { EndpointSpec: { Ports: [udp(p3), { ...udp(p3), Protocol: 'tcp' }] } }));
    const mesh = c.tables.forNode('x').entries('_cluster', 'ingress').map((e) => JSON.parse(new TextDecoder().decode(e.value)) as { service: string; ports: unknown[] });
    assert.equal(mesh.find((x) => x.service === 'w')?.ports, [{ published: p3, target: 53, protocol: 'udp' }, { published: p3, target: 53 }]);
    assert.equal(new Set(mesh.map((x) => (x as { network?: string }).network)), new Set(['id-ingress']), 'the mesh reaches the tasks over ingress');
  } finally {
    await c.stop();
  }
});

test('mode host: each task gets the port on its own node, one such task per node, the rest pending; two services share a port on different nodes', async () => {
  const c = await cluster(['m', 'a', 'b']);
  try {
    const m = c.nodes[0]!.api;
    const hostPort = (p: number) => ({ EndpointSpec: { Ports: [{ Protocol: 'tcp' as const, TargetPort: 80, PublishMode: 'host' as const, PublishedPort: p }] } });
    const { ID } = await m.create(spec('web', 2, hostPort(18090)));
    await c.settle();
    const scale = async (n: number) => {
      const cur = await m.get(ID);
      await m.update(ID, cur.Version.Index, { ...cur.Spec, Mode: { Replicated: { Replicas: n } } });
    };
    const boxes = () => c.nodes.map((n) => [...n.engine.boxes.values()].filter((b) => b.task?.service !== '').map((b) => ({ service: b.task!.service, ports: b.req.Ports ?? [] })));
    let now = boxes();
    assert.equal(now.map((b) => b.length).reduce((x, y) => x + y), 2);
    for (const [i, list] of now.entries())
      for (const b of list) assert.equal(b.ports, [{ HostIP: hostOf(i), HostPort: 18090, ContainerPort: 80, Protocol: 'tcp' }], 'the node publishes the port straight to its task');
    assert.equal(c.nodes.flatMap((n) => [...n.engine.boxes.values()]).filter((b) => b.task?.service === ''), [], 'no routing-mesh helper for mode host');
    // Four replicas on three nodes: one stays pending (no node has the port free).
    await scale(4);
    await c.settle();
    now = boxes();
    assert.equal(now.map((b) => b.length), [1, 1, 1]);
    const tasks = await m.tasks({ service: ['web'] });
    assert.equal(tasks.filter((t) => t.DesiredState === 'running').length, 3, 'the fourth slot has no node');
    // Another service on the same port: placed only where the port is free (none now).
    await scale(2);
    await m.create(spec('api', 2, hostPort(18090)));
    await c.settle();
    now = boxes();
    assert.equal(now.map((b) => b.length), [1, 1, 1], 'web keeps two nodes, api gets the third');
    assert.equal(now.flat().filter((b) => b.service === 'api').length, 1);
  } finally {
    await c.stop();
  }
});

test('ingress network: made on the first published port; tasks attached to it last, helpers on it, a VIP there; refusals', async () => {
  const c = await cluster(['m', 'a', 'b']);
  const port = await freePort(3);
  try {
    const m = c.nodes[0]!.api;
    const err = (p: Promise<unknown>) => p.then(() => '(no error)', (e: Error) => e.message);
    await m.create(spec('plain', 1));
    await c.settle();
    assert.equal(c.nets.filter((d) => d.Ingress === true), [], 'no published port: no ingress network yet');
    const r = await m.create(spec('web', 3, { EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: port, PublishMode: 'ingress' }] } }));
    assert.equal(r.Warnings, []);
    await c.settle();
    const ing = c.nets.filter((d) => d.Ingress === true);
    assert.equal(ing.map((d) => [d.Name, d.Scope, d.Driver, d.Attachable]), [['ingress', 'swarm', 'overlay', false]], 'one ingress network, created through the engine');
    const ingId = ing[0]!.Id;
    const boxes = c.nodes.flatMap((n) => [...n.engine.boxes.values()]);
    const web = boxes.filter((b) => b.task?.service === 'web');
    assert.is(web.length, 3);
    for (const b of web) assert.equal(b.req.Networks, [{ Name: 'n1id', Aliases: ['www'] }, { Name: ingId, Aliases: [] }], 'the spec network first (primary), ingress last');
    assert.equal(boxes.find((b) => b.task?.service === 'plain')!.req.Networks, [{ Name: 'n1id', Aliases: ['www'] }], 'a service without published ports is not on ingress');
    const tasks = await m.tasks({ service: ['web'] });
    for (const t of tasks) assert.equal((t.NetworksAttachments ?? []).map((a) => a.Network).sort(), ['ingress', 'web'], 'tasks report an address on ingress');
    const helpers = c.nodes.map((n) => [...n.engine.boxes.values()].filter((b) => b.task?.service === ''));
    assert.equal(helpers.map((h) => h.map((b) => b.req.Networks)), [0, 1, 2].map(() => [[{ Name: ingId }]]), 'a mesh helper on every node, attached to ingress');
    const entry = c.tables.forNode('x').entries('_cluster', 'ingress').map((e) => JSON.parse(new TextDecoder().decode(e.value)) as { service: string; network: string });
    assert.equal(entry, [{ service: 'web', network: ingId, ports: [{ published: port, target: 80 }] }]);
    const vips = (await m.get('web')).Endpoint?.VirtualIPs ?? [];
    assert.equal(vips.map((v) => v.NetworkID), ['n1id', ingId], 'a VIP on the service network and on ingress');
    assert.ok(web.every((b) => b.task?.vips?.[ingId] === vips[1]!.Addr.split('/')[0]), 'tasks carry the ingress VIP');
    // Every node really listens on its (loopback) address.
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(port, `127.0.0.${i + 2}`, () => (s.destroy(), resolve()));
        s.once('error', (e) => reject(new Error(`node ${i}: ${port} does not answer: ${e.message}`)));
      });
    }
    // Refusals.
    assert.match(await err(m.create({ ...spec('x', 1), TaskTemplate: { ContainerSpec: { Command: ['x'] }, Networks: [{ Target: 'ingress' }] } })), /Service cannot be explicitly attached to the ingress network "ingress"/);
    assert.match(await err(c.nodes[1]!.engine.removeNetwork('ingress')), /ingress network cannot be removed because service web depends on it/, 'refused on any node');
    assert.match(await err(c.nodes[0]!.engine.removeNetwork(ingId)), /service web depends on it/);
    assert.is(await err(c.nodes[0]!.engine.removeNetwork('web').then(() => c.nets.push({ ...NETS[0]! }))), '(no error)', 'other networks are not concerned');
    // A second publishing service uses the same network.
    const port2 = await freePort(3);
    await m.create(spec('api', 1, { EndpointSpec: { Ports: [{ Protocol: 'udp', TargetPort: 53, PublishedPort: port2, PublishMode: 'ingress' }] } }));
    await c.settle();
    assert.is(c.nets.filter((d) => d.Ingress === true).length, 1);
    assert.match(await err(c.nodes[2]!.engine.removeNetwork('ingress')), /because service api, web depend on it/);
    // Not publishing any more: off ingress (tasks replaced), helpers gone; the network stays (Docker keeps it) until removed.
    const s = await m.get('api');
    await m.update('api', s.Version.Index, { ...s.Spec, EndpointSpec: {} });
    await m.remove('web');
    await c.settle();
    assert.equal(c.nodes.flatMap((n) => [...n.engine.boxes.values()]).filter((b) => b.req.Networks?.some((x) => x.Name === ingId)), [], 'nothing left on ingress');
    assert.equal(((await m.get('api')).Endpoint?.VirtualIPs ?? []).map((v) => v.NetworkID), ['n1id'], 'the ingress VIP is freed');
    assert.is(c.nets.filter((d) => d.Ingress === true).length, 1, 'ingress kept after the last publishing service');
    assert.is(await err(c.nodes[1]!.engine.removeNetwork('ingress')), '(no error)', 'removable once no service publishes');
    // A network named "ingress" that is not the ingress network: publishing is reported, not silently dropped.
    await c.nodes[0]!.engine.createNetwork({ Name: 'ingress', Driver: 'overlay' });
    const w = await m.create(spec('late', 1, { EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: port, PublishMode: 'ingress' }] } }));
    assert.match(w.Warnings.join('\n'), /service late: its published ports are not served yet: network "ingress" .* is not an ingress network/);
  } finally {
    await c.stop();
  }
});

test('compose: missing command and undeclared networks are errors; external networks must exist', () => {
  assert.throws(() => planStack('s', ['services: { a: { image: mysql } }']), /no command, and Weft knows no command for image "mysql"/);
  assert.throws(() => planStack('s', ['services: { a: { deploy: { replicas: 2 } } }']), /no command/);
  // An image Weft stands in for needs no command (nginx: an HTTP server on port 80).
  assert.equal(planStack('s', ['services: { a: { image: nginx } }']).services[0]!.TaskTemplate.ContainerSpec, { Command: [], Image: 'nginx' });
  assert.throws(() => planStack('s', ['services: { a: { command: x, networks: [nope] } }']), /not declared/);
  const p = planStack('s', ['services: { a: { command: "sh -c \'echo hi\'" } }', 'services: { a: { deploy: { replicas: 3 } } }']);
  assert.equal(p.services[0]!.TaskTemplate.ContainerSpec.Command, ['sh', '-c', 'echo hi']);
  assert.equal(p.services[0]!.Mode.Replicated.Replicas, 3, 'later files override');
  assert.equal(p.networks.map((n) => n.name), ['s_default']);
  const e = planStack('s', ['services: { a: { command: x, networks: [ext] } }\nnetworks: { ext: { external: true } }']);
  assert.equal(e.networks, [{ key: 'ext', name: 'ext', external: true }]);
});

// The Compose specification's own examples (compose-spec: fragments, extension, interpolation).
const SPEC_EXAMPLE = `
x-logging: &default-logging
  options:
    max-size: '12m'
    max-file: '5'
  driver: json-file
x-deploy: &deploy
  replicas: \${REPLICAS:-2}
  labels:
    com.example.tier: \${TIER}
services:
  frontend:
    image: awesome/webapp
    command: ["sleep", "3600"]
    logging: *default-logging
    deploy: *deploy
    x-internal-note: ignored silently
  backend:
    <<: { image: awesome/database, command: "sleep $DELAY" }
    deploy:
      <<: *deploy
      replicas: 1
    labels:
      price: "$$5 \${CURRENCY-EUR}"
networks:
  x-unused: { driver: bridge }
x-custom:
  foo: [bar, zot]
`;

test('compose as Docker reads it: merge keys, x-* extensions ignored, ${VAR} / ${VAR:-default} / $VAR / $$ interpolation', () => {
  const p = planStack('spec', [SPEC_EXAMPLE], { TIER: 'gold', DELAY: '60' });
  const fe = p.services.find((x) => x.Name === 'spec_frontend')!;
  const be = p.services.find((x) => x.Name === 'spec_backend')!;
  assert.is(fe.Mode.Replicated.Replicas, 2, '${REPLICAS:-2} with REPLICAS unset');
  assert.is(fe.Labels?.['com.example.tier'], 'gold');
  assert.is(be.Mode.Replicated.Replicas, 1, 'a merge key, then an override');
  assert.is(be.Labels?.['com.example.tier'], 'gold', 'the anchor merged into deploy');
  assert.equal(be.TaskTemplate.ContainerSpec.Command, ['sleep', '60']);
  assert.is(be.Labels?.price, '$5 EUR', '$$ is a literal $; ${VAR-default}');
  // No warning about x-* fields (ignored silently); logging is not supported (a warning, as before).
  assert.not.ok(p.warnings.some((w) => w.includes('x-')), p.warnings.join('\n'));
  assert.ok(p.warnings.some((w) => w.includes('services.frontend.logging')));
  assert.equal(p.networks.map((n) => n.key), ['default']);
  // Unset without a default: blank, with a warning; ${VAR:?msg} is an error.
  const blank = planStack('s', ['services: { a: { command: "echo $NOPE", labels: { x: "${NOPE2}" } } }']);
  assert.ok(blank.warnings.includes('the NOPE variable is not set: defaulting to a blank string'));
  assert.equal(blank.services[0]!.TaskTemplate.ContainerSpec.Command, ['echo']);
  assert.throws(() => planStack('s', ['services: { a: { command: "${CMD:?give a command}" } }']), /services\.a\.command: required variable CMD is missing a value: give a command/);
  assert.throws(() => planStack('s', ['services: { a: { command: "${CMD" } }']), /services\.a\.command: invalid interpolation format/);
});

test('compose: a malformed file is refused with the path of the bad field, before anything is deployed', async () => {
  const bad: [string, RegExp][] = [
    ['services: { web: { command: x, ports: [{ published: 80 }] } }', /invalid compose file: services\.web\.ports\[0\]/],
    ['services: { web: { command: x, ports: [80, [1, 2]] } }', /services\.web\.ports\[1\]: expected a port/],
    ['services: { web: { command: x, networks: 7 } }', /services\.web\.networks: expected a list of network names or a map/],
    ['services: { web: { command: x, deploy: { replicas: [3] } } }', /services\.web\.deploy\.replicas/],
    ['services: { web: { command: { a: 1 } } }', /services\.web\.command/],
    ['services: { web: { command: x } }\nnetworks: { n: { ipam: { config: [{ subnet: 10 }] } } }', /networks\.n\.ipam\.config\[0\]\.subnet/],
    ['services: []', /no services|services/],
    ['services: { web: [1] }', /services\.web: expected a service definition/],
  ];
  for (const [file, re] of bad) assert.throws(() => planStack('s', [file]), re, file);
  // Through deployStack: refused before any network or service is made.
  const made: string[] = [];
  const api = {
    engine: () => ({ listDefs: async () => [], createNetwork: async (r: { Name: string }) => (made.push(r.Name), { Id: 'x', Warning: '' }) }),
    get: async () => raise(errors.notFound('services', 'no')),
    create: async (s: { Name: string }) => (made.push(s.Name), { ID: 'i', Warnings: [] }),
    list: async () => [],
  } as unknown as Parameters<typeof deployStack>[0];
  await deployStack(api, 'ok', ['services: { web: { command: x, networks: [n] } }\nnetworks: { n: {} }']);
  assert.equal(made, ['ok_n', 'ok_web']);
  made.length = 0;
  try {
    await deployStack(api, 'bad', ['services: { web: { command: x, networks: [n], ports: ["eighty"] } }\nnetworks: { n: {} }']);
    assert.unreachable('should refuse');
  } catch (e) {
    assert.match(String((e as Error).message), /services\.web\.ports/);
  }
  assert.equal(made, [], 'nothing deployed');
});

/**
 * Several managers on one cluster store (a real ClusterStore implementation in memory; the
 * etcd backend passes the same conformance suite), each with the control plane's answers as a
 * real manager gets them: role, leadership, the store. Not `opts.isManager`.
 */
async function managers(n: number) {
  const t = sharedTables();
  const store: ClusterStore = memoryClusterStore();
  const nets = NETS.map((d) => ({ ...d }));
  const vip = fakeVipSource(nets);
  const netfilter = fakeNetfilter();
  const names = Array.from({ length: n }, (_, i) => `m${i}`);
  const leader = { name: names[0]! };
  /** While closed, the leader's transactions wait (a slow write, as on a loaded etcd). */
  const gate = { closed: undefined as Promise<void> | undefined };
  const leaderStore: ClusterStore = { ...store, txn: async (req) => {
    await gate.closed;
    return store.txn(req);
  } };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-services-managers-'));
  const nodes: Node[] = [];
  let seq = 0;
  for (const [i, name] of names.entries()) {
    const kernel = createKernel();
    const engine = fakeEngine(nets);
    const control = { role: i < n - 1 ? 'manager' : 'worker', isLeader: () => leader.name === name, clusterStore: () => (i === 0 ? leaderStore : i < n - 1 ? store : undefined) } as unknown as Control;
    const r = await kernel.load([
      { plugin: definePlugin({ manifest: { name: 'fake-tables', version: '0.1.0', kernel: '^0.1.0', provides: ['tables'] }, services: { tables: () => t.forNode(name) } }) },
      { plugin: definePlugin({ manifest: { name: 'fake-engine', version: '0.1.0', kernel: '^0.1.0', provides: ['engine', 'ports'] }, services: { engine: () => engine, ports: () => ports } }) },
      { plugin: definePlugin({ manifest: { name: 'fake-control', version: '0.1.0', kernel: '^0.1.0', provides: ['control'] }, services: { control: () => control } }) },
      {
        plugin: servicesPlugin({ readyNodes: async () => names, nodeName: () => name, newId: () => `t${String(++seq).padStart(3, '0')}`, vipSource: () => vip.source, netfilter: netfilter.nf }),
        config: { intervalMs: 60_000, runDir: path.join(dir, name), publishHost: hostOf(i) },
      },
    ]);
    if (isLeft(r)) throw new Error(JSON.stringify(r.left));
    t.kernels.push(kernel);
    nodes.push({ name, kernel, engine, api: kernel.service('services')! });
  }
  const settle = async () => {
    for (let i = 0; i < 6; i++) for (const x of nodes) await x.api.reconcile();
  };
  const stop = async () => {
    await Promise.all(nodes.map((x) => x.kernel.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { nodes, store, leader, gate, settle, stop };
}

test('several managers on a cluster store: any manager changes services, a name race has one winner, updates racing the reconciler are never lost, workers refuse', async () => {
  const c = await managers(4); // m0 leader, m1 and m2 managers, m3 a worker
  const [m0, m1, m2, w] = c.nodes as [Node, Node, Node, Node];
  try {
    // Created on a manager that is not the leader; the leader's reconciler places the tasks.
    const { ID } = await m1.api.create(spec('api', 2));
    await c.settle();
    assert.is((await m0.api.get('api')).ServiceStatus?.RunningTasks, 2);
    // The same name from two managers at once: exactly one wins, the other is told it exists.
    for (let round = 0; round < 5; round++) {
      const r = await Promise.allSettled([m1.api.create(spec(`race${round}`, 1)), m2.api.create(spec(`race${round}`, 1))]);
      assert.is(r.filter((x) => x.status === 'fulfilled').length, 1, `round ${round}: one winner`);
      assert.match(String((r.find((x) => x.status === 'rejected') as PromiseRejectedResult).reason), /already exists/);
    }
    assert.is((await m0.api.list()).filter((s) => s.Spec.Name.startsWith('race')).length, 5);
    // Updates on two managers interleaved with the leader's passes (which rewrite the same record
    // with its tasks): every update lands, none is overwritten by a pass that read before it.
    for (let k = 3; k <= 8; k++) {
      const via = k % 2 === 0 ? m1 : m2;
      const cur = await via.api.get('api');
      await Promise.all([via.api.update('api', cur.Version.Index, spec('api', k)), m0.api.reconcile(), m0.api.reconcile()]);
      await c.settle();
      const s = await m2.api.get(ID);
      assert.is(s.Spec.Mode.Replicated.Replicas, k, `update to ${k} replicas kept`);
      assert.is(s.ServiceStatus?.RunningTasks, k, `${k} tasks running after the update`);
    }
    // The reconciler's first pass over a new service (it writes the record with its tasks) racing
    // an update on another manager: without a compare of the record's revision one of the two
    // writes would silently undo the other.
    for (let i = 0; i < 3; i++) {
      await m1.api.create(spec(`lu${i}`, 1));
      const v = (await m2.api.get(`lu${i}`)).Version.Index;
      let open = () => {};
      c.gate.closed = new Promise<void>((r) => (open = r));
      const pass = m0.api.reconcile(); // reads the record, plans a task, waits at its write
      await new Promise((r) => setTimeout(r, 20));
      await m2.api.update(`lu${i}`, v, spec(`lu${i}`, 3)); // lands meanwhile
      c.gate.closed = undefined;
      open();
      await pass;
      await c.settle();
      const s = await m0.api.get(`lu${i}`);
      assert.is(s.Spec.Mode.Replicated.Replicas, 3, `lu${i}: the update survived the reconciler's concurrent write`);
      assert.is(s.ServiceStatus?.RunningTasks, 3, `lu${i}: 3 tasks`);
    }
    // A record written behind a reader's back (as another manager's write would be) makes its
    // stale write fail and retry: the update still lands, on the latest record.
    const before = await m1.api.get('api');
    await Promise.all([m1.api.update('api', before.Version.Index, spec('api', 2)), m2.api.remove('race0')]);
    assert.is((await m0.api.get('api')).Spec.Mode.Replicated.Replicas, 2);
    // A removed service frees its name for a new one.
    await m1.api.remove('race1');
    await m2.api.create(spec('race1', 1));
    // A worker (no cluster store) changes nothing and says why.
    const err = await w.api.create(spec('nope', 1)).then(() => undefined, (e: Error) => e);
    assert.match(String(err), /not a swarm manager/);
  } finally {
    await c.stop();
  }
});

test.run();
