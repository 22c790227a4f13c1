/** The policy and the dispatcher over recording doubles: no privileges needed. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { recordingDataPath } from '@weft/testing';
import type { DataPath, DataPathNetwork } from '@weft/kernel';
import { chooseDataPlane, createDispatcher, DataPlaneCodes } from './mod.ts';

const net = (x: Partial<DataPathNetwork> = {}): DataPathNetwork => ({ id: 'n', vni: 4100, mtu: 1450, encrypted: false, internal: false, gateways: ['10.1.0.1/24'], ...x });
const kernel = (unavailable?: string): DataPath => Object.assign(recordingDataPath(), { dataplane: 'kernel' as const, vtepPort: 4789, ...(unavailable !== undefined ? { unavailable } : {}) });
const userspace = (): DataPath => Object.assign(recordingDataPath(), { dataplane: 'userspace' as const, vtepPort: 4790, encrypts: true });
const pick = (n: DataPathNetwork, h: Parameters<typeof chooseDataPlane>[1]) => {
  const r = chooseDataPlane(n, h);
  return r.ok ? r.dataplane : `${r.error.code}: ${r.error.message}`;
};

test('auto: plaintext overlays on the kernel, encrypted ones on the userspace switch', () => {
  const h = { kernel: kernel(), userspace: userspace() };
  assert.is(pick(net(), h), 'kernel');
  assert.is(pick(net({ dataplane: 'auto' }), h), 'kernel');
  assert.is(pick(net({ encrypted: true }), h), 'userspace');
  assert.is(pick(net({ vni: 0 }), h), 'userspace', 'local-only (bridge) networks stay on the switch under auto');
  assert.is(pick(net({ vni: 0, dataplane: 'kernel' }), h), 'kernel', 'unless they ask');
});

test('auto falls back to userspace where the kernel cannot; a host can force userspace', () => {
  assert.is(pick(net(), { kernel: kernel('no vxlan module'), userspace: userspace() }), 'userspace');
  assert.is(pick(net(), { userspace: userspace() }), 'userspace');
  assert.is(pick(net(), { kernel: kernel(), userspace: userspace(), hostDefault: 'userspace' }), 'userspace');
  assert.is(pick(net({ dataplane: 'kernel' }), { kernel: kernel(), userspace: userspace(), hostDefault: 'userspace' }), 'kernel', "the network's own choice wins");
  assert.is(pick(net(), { kernel: kernel() }), 'kernel');
});

test('kernel + encrypted is refused with the reason; kernel where it cannot run says why', () => {
  const h = { kernel: kernel(), userspace: userspace() };
  const r = chooseDataPlane(net({ encrypted: true, dataplane: 'kernel' }), h);
  assert.is(r.ok, false);
  if (!r.ok) {
    assert.is(r.error.code, DataPlaneCodes.kernelEncrypted);
    assert.match(r.error.message, /plaintext/);
    assert.match(r.error.hint ?? '', /weft\.dataplane=auto/);
  }
  assert.match(pick(net({ dataplane: 'kernel' }), { kernel: kernel('no vxlan module'), userspace: userspace() }), /no vxlan module/);
  assert.match(pick(net({ dataplane: 'kernel' }), { userspace: userspace() }), /no kernel data path is loaded/);
  assert.match(pick(net({ encrypted: true }), { kernel: kernel() }), /needs the userspace data path \(it is encrypted\)/);
  assert.match(pick(net({ dataplane: 'fast' as never }), h), /expected auto, kernel or userspace/);
});

test('the dispatcher routes each network to its path, remembers the choice, and merges the views', async () => {
  const k = kernel();
  const u = userspace();
  const memory = new Map<string, string>();
  const d = createDispatcher({ kernel: k, userspace: u }, { get: async (id) => memory.get(id) as never, set: async (id, v) => void (v === undefined ? memory.delete(id) : memory.set(id, v)) });
  assert.is(d.encrypts, true);
  await d.ensureNetwork(net({ id: 'plain' }));
  await d.ensureNetwork(net({ id: 'secret', vni: 4101, encrypted: true }));
  assert.equal(d.placement!('plain'), { dataplane: 'kernel', vtepPort: 4789 });
  assert.equal(d.placement!('secret'), { dataplane: 'userspace', vtepPort: 4790 });
  assert.equal(Object.fromEntries(memory), { plain: 'kernel', secret: 'userspace' });
  await d.addPort({ network: 'plain', endpointId: 'e1', mac: '02:42:0a:01:00:02', ifname: 'wft1' });
  d.addPeer({ network: 'secret', mac: '02:42:0a:01:00:03', vtep: '198.18.0.2' });
  assert.ok((k as ReturnType<typeof recordingDataPath>).ports.has('plain/e1'));
  assert.ok((u as ReturnType<typeof recordingDataPath>).peers.has('secret/02:42:0a:01:00:03'));
  assert.is(d.portCount!(), 1);
  assert.throws(() => d.addPeer({ network: 'nowhere', mac: '02:42:0a:01:00:04', vtep: '198.18.0.2' }), /not set up/);
  assert.ok('plain' in d.counters() && 'secret' in d.counters(), 'counters of both paths');
  // A restarted dispatcher finds the same path from the store, whatever the policy says now.
  const again = createDispatcher({ kernel: k, userspace: u, hostDefault: 'userspace' }, { get: async (id) => memory.get(id) as never, set: async () => undefined });
  await again.ensureNetwork(net({ id: 'plain' }));
  assert.is(again.placement!('plain')?.dataplane, 'kernel');
  await d.removePort('plain', 'e1');
  await d.removeNetwork('plain');
  assert.is(memory.has('plain'), false);
  assert.is(d.placement!('plain'), undefined);
});

test.run();
