import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isRight } from 'fp-ts/lib/Either.js';
import { createKernel } from '@weft/kernel';
import { parseArgs } from './config.ts';
import { plugins } from './agent.ts';

test('the agent loads the etcd cluster-store backend: clusterStore.etcd opens etcd:// and etcds:// for control', async () => {
  const r = parseArgs(['--node-name', 'h1', '--advertise-addr', '198.18.0.1']);
  if (!('ok' in r) || !r.ok) throw new Error(JSON.stringify(r));
  const entries = plugins(r.config);
  const etcd = entries.filter((e) => e.plugin.manifest.provides.includes('clusterStore.etcd'));
  assert.equal(etcd.map((e) => e.plugin.manifest.name), ['store-etcd']);
  const control = entries.findIndex((e) => e.plugin.manifest.name === 'control');
  assert.ok(control >= 0 && entries.indexOf(etcd[0]!) < control, 'listed before control');
  const k = createKernel();
  assert.ok(isRight(await k.load(etcd)));
  const backend = k.service('clusterStore.etcd')!;
  assert.equal([backend.schemes, backend.shared], [['etcd', 'etcds'], true]);
  await k.stop();
});

test.run();
