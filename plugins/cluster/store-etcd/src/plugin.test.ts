/** The plugin in a kernel: `clusterStore.etcd` opens etcd:// and etcds:// URLs; stop closes what it opened. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isRight } from 'fp-ts/lib/Either.js';
import { createKernel, definePlugin, type ClusterStoreBackend } from '@weft/kernel';
import { etcdSkipReason, startEtcdCluster } from '@weft/testing';
import { etcdStorePlugin } from './plugin.ts';

test('provides clusterStore.etcd for etcd and etcds, shared by managers', async () => {
  const k = createKernel();
  let backend: ClusterStoreBackend | undefined;
  const user = definePlugin({
    manifest: { name: 'store-user', version: '1.0.0', kernel: '^0.1.0', provides: ['probe'], requires: ['clusterStore.etcd'] },
    services: { probe: (ctx) => ((backend = ctx.services.get('clusterStore.etcd')), {}) },
  });
  const r = await k.load([{ plugin: etcdStorePlugin() }, { plugin: user }]);
  assert.ok(isRight(r), JSON.stringify(r));
  assert.equal([backend!.schemes, backend!.shared], [['etcd', 'etcds'], true]);
  const skip = etcdSkipReason();
  if (skip !== undefined) {
    console.log(`  skipped the open: ${skip}`);
    await k.stop();
    return;
  }
  const etcd = await startEtcdCluster({ members: 1, tag: 'plugin' });
  try {
    const s = await backend!.open({ url: etcd.url });
    await s.put('weft/p', new Uint8Array([1]));
    assert.equal([...(await s.get('weft/p'))!.value], [1]);
    await k.stop();
    await s.get('weft/p').then(
      () => assert.unreachable('the store is closed when the plugin stops'),
      (e: { code?: string }) => assert.is(e.code, 'WEFT_CLUSTER_STORE_UNAVAILABLE'),
    );
  } finally {
    await etcd.stop();
  }
});

test.run();
