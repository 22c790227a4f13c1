import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, memoryStore } from '@weft/kernel';
import { dataPathPlugin, recordingDataPath } from '@weft/testing';
import { exampleStatic } from '@weft/example-static';
import { scaleGuardPlugin, GUARD_NAME } from './mod.ts';

// example-static plugs a port into the data path on each Join, so the data path's count moves.
test('warns from 80 % of the capacity, refuses at it, naming the guard and the numbers', async () => {
  const dp = recordingDataPath();
  dp.capacity = { ports: 5 };
  const k = createKernel({ store: memoryStore() });
  const r = await k.load([{ plugin: dataPathPlugin(dp) }, { plugin: exampleStatic('drv') }, { plugin: scaleGuardPlugin() }]);
  if (isLeft(r)) throw new Error(r.left.map((e) => e.message).join('; '));
  await k.invoke('drv', 'NetworkDriver.CreateNetwork', { NetworkID: 'n', IPv4Data: [{ Pool: '10.0.0.0/24', Gateway: '10.0.0.1/24' }] });
  const warned: string[][] = [];
  for (let i = 0; i < 6; i++) {
    await k.invoke('drv', 'NetworkDriver.CreateEndpoint', { NetworkID: 'n', EndpointID: `e${i}`, Interface: { Address: `10.0.0.${i + 2}/24` } });
    const warnings: string[] = [];
    const j = await k.invoke('drv', 'NetworkDriver.Join', { NetworkID: 'n', EndpointID: `e${i}`, SandboxKey: '/x' }, { warnings });
    warned.push(warnings);
    if (i < 5) assert.ok(!isLeft(j), `join ${i}`);
    else {
      assert.ok(isLeft(j));
      if (isLeft(j)) {
        assert.is(j.left.category, 'Forbidden');
        assert.match(j.left.message, `Guard "${GUARD_NAME}"`);
        assert.match(j.left.message, 'already has 5 endpoints, its limit is 5');
        assert.ok(j.left.hint !== undefined);
      }
    }
  }
  assert.equal(warned.map((w) => w.length), [0, 0, 0, 1, 1, 0], 'warnings at the 4th and 5th endpoint (80 % of 5), then a refusal');
  assert.match(warned[3]![0]!, '4 of at most 5');
  await k.stop();
});

test('configured limits win; without a known capacity the guard stays out of the way', async () => {
  const dp = recordingDataPath();
  const k = createKernel({ store: memoryStore() });
  const r = await k.load([{ plugin: dataPathPlugin(dp) }, { plugin: exampleStatic('drv') }, { plugin: scaleGuardPlugin(), config: { limit: 1, warnAt: 1 } }]);
  if (isLeft(r)) throw new Error('load');
  await k.invoke('drv', 'NetworkDriver.CreateNetwork', { NetworkID: 'n', IPv4Data: [{ Pool: '10.0.0.0/24' }] });
  for (const e of ['a', 'b']) await k.invoke('drv', 'NetworkDriver.CreateEndpoint', { NetworkID: 'n', EndpointID: e, Interface: { Address: e === 'a' ? '10.0.0.2/24' : '10.0.0.3/24' } });
  assert.ok(!isLeft(await k.invoke('drv', 'NetworkDriver.Join', { NetworkID: 'n', EndpointID: 'a', SandboxKey: '/x' })));
  assert.ok(isLeft(await k.invoke('drv', 'NetworkDriver.Join', { NetworkID: 'n', EndpointID: 'b', SandboxKey: '/x' })));
  await k.stop();
  const dp2 = recordingDataPath();
  const k2 = createKernel();
  await k2.load([{ plugin: dataPathPlugin(dp2) }, { plugin: exampleStatic('drv') }, { plugin: scaleGuardPlugin() }]);
  await k2.invoke('drv', 'NetworkDriver.CreateNetwork', { NetworkID: 'n', IPv4Data: [{ Pool: '10.0.0.0/24' }] });
  await k2.invoke('drv', 'NetworkDriver.CreateEndpoint', { NetworkID: 'n', EndpointID: 'a', Interface: { Address: '10.0.0.2/24' } });
  assert.ok(!isLeft(await k2.invoke('drv', 'NetworkDriver.Join', { NetworkID: 'n', EndpointID: 'a', SandboxKey: '/x' })), 'no capacity, no limit: allowed');
  await k2.stop();
});

test.run();
