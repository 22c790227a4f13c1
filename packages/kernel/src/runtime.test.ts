import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as t from 'io-ts';
import { isLeft, isRight, left } from 'fp-ts/lib/Either.js';
import { createKernel, definePlugin, errors, KernelCodes, method, getJson, putJson, type PluginDefinition, type ServiceFactory } from './mod.ts';

const driver = (over: Partial<PluginDefinition> = {}, name = 'test'): PluginDefinition =>
  definePlugin({
    manifest: { name, version: '1.0.0', kernel: '^0.1.0', provides: ['NetworkDriver'] },
    handlers: {
      NetworkDriver: {
        GetCapabilities: () => ({ Scope: 'local', ConnectivityScope: 'global' }),
        CreateNetwork: async (req, ctx) => {
          await putJson(ctx.store, `net/${req.NetworkID}`, req);
          return {};
        },
        DeleteNetwork: async (req, ctx) => {
          if (!(await ctx.store.delete(`net/${req.NetworkID}`))) return left(errors.notFound(ctx.plugin, `Network "${req.NetworkID}" not found`));
          return {};
        },
        CreateEndpoint: () => ({}),
        DeleteEndpoint: () => ({}),
        EndpointOperInfo: () => ({ Value: {} }),
        Join: () => ({ InterfaceName: { SrcName: 'wft0', DstPrefix: 'eth' }, Gateway: '10.0.0.1' }),
        Leave: () => ({}),
      },
    },
    ...over,
  });

async function loaded(...plugins: PluginDefinition[]) {
  const k = createKernel();
  const r = await k.load(plugins.map((plugin) => ({ plugin })));
  if (isLeft(r)) throw new Error(JSON.stringify(r.left));
  return k;
}

test('a valid call round-trips through decode, handler, encode; state lives in ctx.store', async () => {
  const k = await loaded(driver());
  const r = await k.invoke('test', 'NetworkDriver.CreateNetwork', { NetworkID: 'n1', Options: null, IPv4Data: [{ AddressSpace: 'x', Pool: '10.0.0.0/24', Gateway: '10.0.0.1/24' }], IPv6Data: null });
  assert.ok(isRight(r));
  assert.equal((r as { right: unknown }).right, {});
  const d = await k.invoke('test', 'NetworkDriver.DeleteNetwork', { NetworkID: 'n1' });
  assert.ok(isRight(d));
  const d2 = await k.invoke('test', 'NetworkDriver.DeleteNetwork', { NetworkID: 'n1' });
  assert.ok(isLeft(d2) && d2.left.category === 'NotFound' && d2.left.plugin === 'test');
});

test('bad input is BadRequest naming the JSON path of the field', async () => {
  const k = await loaded(driver());
  const r = await k.invoke('test', 'NetworkDriver.CreateNetwork', { NetworkID: 'n1', IPv4Data: [{ Pool: '10.0.0.0/24' }, { Pool: '10.0.0.300/24' }] });
  assert.ok(isLeft(r));
  if (!isLeft(r)) return;
  assert.is(r.left.category, 'BadRequest');
  assert.is(r.left.code, KernelCodes.badInput);
  assert.is(r.left.path, 'IPv4Data[1].Pool');
  assert.is(r.left.value, '10.0.0.300/24');
  assert.match(r.left.message, '"10.0.0.300/24"');
  const missing = await k.invoke('test', 'NetworkDriver.Join', { NetworkID: 'n1', EndpointID: 'e1' });
  assert.ok(isLeft(missing) && missing.left.path === 'SandboxKey', JSON.stringify(missing));
});

test('hostile input (20,000-deep nesting, megabyte strings) is a BadRequest with a short message, not a throw', async () => {
  const k = await loaded(driver());
  const deep = JSON.parse('['.repeat(20000) + ']'.repeat(20000));
  const r = await k.invoke('test', 'NetworkDriver.CreateNetwork', { NetworkID: 'n', IPv4Data: deep });
  assert.ok(isLeft(r) && r.left.category === 'BadRequest', JSON.stringify(isLeft(r) ? r.left.category : 'right'));
  const big = await k.invoke('test', 'NetworkDriver.CreateNetwork', { NetworkID: 'n', IPv4Data: [{ Pool: 'x'.repeat(1 << 20) }] });
  assert.ok(isLeft(big) && big.left.message.length < 400, 'the message does not echo a megabyte');
});

test('an unknown method and an unimplemented optional method are NotImplemented', async () => {
  const k = await loaded(driver());
  const u = await k.invoke('test', 'NetworkDriver.Frobnicate', {});
  assert.ok(isLeft(u) && u.left.category === 'NotImplemented');
  const o = await k.invoke('test', 'NetworkDriver.AllocateNetwork', { NetworkID: 'n' });
  assert.ok(isLeft(o) && o.left.category === 'NotImplemented' && o.left.plugin === 'test');
});

test('a handler returning an invalid response is Internal, not passed on', async () => {
  const bad = driver();
  const k = await loaded({
    ...bad,
    handlers: { NetworkDriver: { ...bad.handlers!.NetworkDriver, Join: () => ({ InterfaceName: { SrcName: 'x', DstPrefix: 'eth' }, Gateway: '10.0.0.1/24' }) } },
  } as PluginDefinition);
  const r = await k.invoke('test', 'NetworkDriver.Join', { NetworkID: 'n', EndpointID: 'e', SandboxKey: '/x' });
  assert.ok(isLeft(r) && r.left.category === 'Internal' && r.left.code === KernelCodes.badOutput && r.left.path === 'Gateway', JSON.stringify(r));
});

test('a thrown exception becomes Internal with the plugin name', async () => {
  const base = driver();
  const k = await loaded({ ...base, handlers: { NetworkDriver: { ...base.handlers!.NetworkDriver, Leave: () => { throw new Error('boom'); } } } } as PluginDefinition);
  const r = await k.invoke('test', 'NetworkDriver.Leave', { NetworkID: 'n', EndpointID: 'e' });
  assert.ok(isLeft(r) && r.left.category === 'Internal' && r.left.plugin === 'test' && r.left.message.includes('boom'));
});

test("a guard's veto is Forbidden naming the guard; order is declared; warnings are collected", async () => {
  const calls: string[] = [];
  const guard = definePlugin({
    manifest: { name: 'no-join', version: '1.0.0', kernel: '^0.1.0', provides: ['guard'] },
    guards: [
      { name: 'second', hooks: ['NetworkDriver.Join'], phase: 'before', order: 20, check: () => { calls.push('second'); return { veto: 'node "w1" runs Windows', hint: 'Use a Linux node.' }; } },
      { name: 'first', hooks: ['*'], phase: 'before', order: 10, check: (c) => { calls.push(`first:${c.method}`); return { warn: 'near the endpoint limit' }; } },
    ],
  });
  let joined = false;
  const base = driver();
  const k = await loaded({ ...base, handlers: { NetworkDriver: { ...base.handlers!.NetworkDriver, Join: () => { joined = true; return { InterfaceName: { SrcName: 'a', DstPrefix: 'eth' } }; } } } } as PluginDefinition, guard);
  const warnings: string[] = [];
  const r = await k.invoke('test', 'NetworkDriver.Join', { NetworkID: 'n', EndpointID: 'e', SandboxKey: '/x' }, { warnings });
  assert.ok(isLeft(r));
  if (!isLeft(r)) return;
  assert.is(r.left.category, 'Forbidden');
  assert.is(r.left.code, KernelCodes.guardVeto);
  assert.match(r.left.message, 'Guard "second"');
  assert.match(r.left.message, 'runs Windows');
  assert.equal(calls, ['first:NetworkDriver.Join', 'second']);
  assert.equal(warnings, ['first: near the endpoint limit']);
  assert.is(joined, false, 'the handler must not run after a veto');
});

test('load fails with coded errors: missing dependency, incompatible kernel, duplicate provider, cycles, bad config', async () => {
  const svc = (name: string, provides: string[], requires: string[] = [], kernel = '^0.1.0'): PluginDefinition =>
    definePlugin({
      manifest: { name, version: '1.0.0', kernel, provides, requires },
      services: Object.fromEntries(provides.map((p): [string, ServiceFactory<unknown, never>] => [p, () => ({}) as never])),
    });
  const codes = async (...ps: PluginDefinition[]) => {
    const r = await createKernel().load(ps.map((plugin) => ({ plugin })));
    return isLeft(r) ? r.left.map((e) => e.code) : [];
  };
  assert.equal(await codes(svc('overlay', [], ['membership'])), [KernelCodes.missingDependency]);
  assert.equal(await codes(svc('old', [], [], '^2.0.0')), [KernelCodes.incompatibleKernel]);
  assert.equal(await codes(svc('a', ['membership']), svc('b', ['membership'])), [KernelCodes.duplicateProvider]);
  assert.equal(await codes(svc('a', ['x'], ['y']), svc('b', ['y'], ['x'])), [KernelCodes.dependencyCycle]);
  const cfgPlugin = definePlugin({ manifest: { name: 'cfg', version: '1.0.0', kernel: '*', provides: [], config: t.type({ port: t.number }) } });
  const r = await createKernel().load([{ plugin: cfgPlugin, config: { port: 'x' } }]);
  assert.ok(isLeft(r) && r.left[0]!.code === KernelCodes.badConfig && r.left[0]!.path === 'port');
  const incomplete = definePlugin({ manifest: { name: 'half', version: '1.0.0', kernel: '*', provides: ['IpamDriver'] }, handlers: { IpamDriver: {} } });
  assert.equal(await codes(incomplete), [KernelCodes.badManifest]);
  const missingMsg = await createKernel().load([{ plugin: svc('overlay', [], ['membership']) }]);
  assert.ok(isLeft(missingMsg) && missingMsg.left[0]!.message.includes('"membership"') && missingMsg.left[0]!.plugin === 'overlay');
});

test('a start hook that fails fails the load with its error', async () => {
  const p = definePlugin({
    manifest: { name: 'stateful', version: '1.0.0', kernel: '*', provides: [] },
    start: () => left(errors.internal('stateful', 'State file /x is corrupt (checksum mismatch)', { code: 'WEFT_STORE_CORRUPT' })),
  });
  const r = await createKernel().load([{ plugin: p }]);
  assert.ok(isLeft(r) && r.left[0]!.code === 'WEFT_STORE_CORRUPT');
  const thrower = definePlugin({ manifest: { name: 'thrower', version: '1.0.0', kernel: '*', provides: [] }, start: () => { throw new Error('disk on fire'); } });
  const r2 = await createKernel().load([{ plugin: thrower }]);
  assert.ok(isLeft(r2) && r2.left[0]!.message.includes('disk on fire') && r2.left[0]!.plugin === 'thrower');
});

test('services start in dependency order and are reachable only when declared', async () => {
  const order: string[] = [];
  const membership = definePlugin({ manifest: { name: 'gossip', version: '1.0.0', kernel: '^0.1', provides: ['membership'] }, services: { membership: () => { order.push('membership'); return { self: () => ({ name: 'n1' }) } as never; } } });
  const user = definePlugin({
    manifest: { name: 'user', version: '1.0.0', kernel: '^0.1', provides: ['thing'], requires: ['membership'] },
    services: { thing: (ctx) => { order.push('thing'); return { who: ctx.services.get('membership').self().name }; } },
  });
  const k = createKernel();
  const r = await k.load([{ plugin: user }, { plugin: membership }]);
  assert.ok(isRight(r));
  assert.equal(order, ['membership', 'thing']);
  assert.equal(k.service('thing'), { who: 'n1' });
});

test('plugins can define contracts of their own; events reach subscribers', async () => {
  const seen: unknown[] = [];
  const p = definePlugin({
    manifest: { name: 'ctl', version: '1.0.0', kernel: '*', provides: ['Control'] },
    methods: [method('Control', 'Echo', t.type({ text: t.string }), t.type({ text: t.string }))],
    handlers: { Control: { Echo: (i: { text: string }) => ({ text: i.text.toUpperCase() }) } },
    events: { table: (e) => { seen.push(e); } },
  });
  const k = await loaded(p);
  const r = await k.invoke('ctl', 'Control.Echo', { text: 'hi' });
  assert.equal(r, { _tag: 'Right', right: { text: 'HI' } });
  const ev = { type: 'create' as const, entry: { table: 'endpoints', network: 'n', key: 'k', value: new Uint8Array(), owner: 'h', lamport: 1, deleted: false, stale: false } };
  k.publish('table', ev);
  await k.events.drain();
  assert.equal(seen, [ev]);
});

test('IPAM GetCapabilities falls back to defaults when a provider omits it', async () => {
  const ipam = definePlugin({
    manifest: { name: 'ip', version: '1.0.0', kernel: '*', provides: ['IpamDriver'] },
    handlers: {
      IpamDriver: {
        GetDefaultAddressSpaces: () => ({ LocalDefaultAddressSpace: 'l', GlobalDefaultAddressSpace: 'g' }),
        RequestPool: () => ({ PoolID: 'p', Pool: '10.0.0.0/24', Data: {} }),
        ReleasePool: () => ({}),
        RequestAddress: () => ({ Address: '10.0.0.2/24', Data: {} }),
        ReleaseAddress: () => ({}),
      },
    },
  });
  const k = await loaded(ipam);
  assert.equal(await k.invoke('ip', 'IpamDriver.GetCapabilities', ''), { _tag: 'Right', right: { RequiresMACAddress: false, RequiresRequestReplay: false } });
  const store = (await getJson(createKernel() as never, 'x').catch(() => 'n/a'));
  assert.ok(store === 'n/a' || store === undefined);
});

test.run();
