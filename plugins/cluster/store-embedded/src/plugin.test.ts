import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ClusterStoreCodes, definePlugin, isWeftError, type ClusterStoreBackend } from '@weft/kernel';
import { kernelWith } from '@weft/testing';
import { databaseDir, embeddedStorePlugin } from './mod.ts';

const enc = (s: string) => new TextEncoder().encode(s);

test('the plugin provides clusterStore.embedded: a consumer that requires it opens embedded: in <dir>/cluster-store; stop closes it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `weft-store-embedded-plugin-${process.pid}-`));
  try {
    let backend: ClusterStoreBackend | undefined;
    const consumer = definePlugin({
      manifest: { name: 'consumer', version: '0.1.0', kernel: '^0.1.0', provides: [], requires: ['clusterStore.embedded'] },
      start: (ctx) => {
        backend = ctx.services.get('clusterStore.embedded');
      },
    });
    const k = await kernelWith(consumer, { extra: [{ plugin: embeddedStorePlugin({ dir }) }] });
    assert.equal(backend?.schemes, ['embedded']);
    const s = await backend!.open({ url: 'embedded:' });
    assert.is((await s.status()).endpoint, path.join(dir, 'cluster-store'));
    await s.put('k', enc('v'));
    assert.ok(fs.existsSync(path.join(dir, 'cluster-store', 'data.mdb')));
    await k.stop();
    const closed = await s.get('k').then(() => undefined, (e: unknown) => e);
    assert.ok(isWeftError(closed) && closed.code === ClusterStoreCodes.unavailable, 'the kernel stopping closed the store');
    // Closed and released: a new kernel opens it again and finds the data.
    let again: ClusterStoreBackend | undefined;
    const k2 = await kernelWith(definePlugin({ ...consumer, start: (ctx) => void (again = ctx.services.get('clusterStore.embedded')) }), { extra: [{ plugin: embeddedStorePlugin({ dir }) }] });
    const s2 = await again!.open({ url: 'embedded://' });
    assert.ok(await s2.get('k'));
    await k2.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('URLs: embedded: and embedded:// use the state dir, embedded:/abs/path a directory of its own; others are refused with BAD_CONFIG', () => {
  assert.is(databaseDir('embedded:', '/var/lib/weft'), path.join('/var/lib/weft', 'cluster-store'));
  assert.is(databaseDir('embedded://', '/var/lib/weft'), path.join('/var/lib/weft', 'cluster-store'));
  assert.is(databaseDir('embedded:/srv/store', '/var/lib/weft'), '/srv/store');
  for (const bad of ['etcd://h:2379', 'embedded:relative/dir', 'embedded://host/x', 'embedded']) {
    try {
      databaseDir(bad, '/var/lib/weft');
      assert.unreachable(bad);
    } catch (e) {
      assert.ok(isWeftError(e), bad);
      assert.is((e as { code: string }).code, ClusterStoreCodes.badConfig, bad);
      const msg = (e as { message: string }).message;
      assert.ok(msg.includes(JSON.stringify(bad)), msg);
    }
  }
});

test.run();
