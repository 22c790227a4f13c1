import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, formatError, type Kernel } from '@weft/kernel';
import { fileStore } from '@weft/store';
import { controlPlugin } from '@weft/control';
import { ipamBlocksPlugin } from '@weft/ipam';
import { memoryClusterStorePlugin } from '@weft/testing';
import { windowsGuardPlugin } from './mod.ts';

async function agent(name: string, os: string, guard: boolean) {
  const dir = await mkdtemp(path.join(tmpdir(), 'weft-wg-'));
  const k = createKernel({ store: fileStore(dir, { unsafeNoSync: true }) });
  const plugins = [{ plugin: controlPlugin({ nodeName: name, os, listenAddr: '127.0.0.1:0', heartbeatMs: 200 }) }, { plugin: ipamBlocksPlugin() }, { plugin: memoryClusterStorePlugin({ dir: `${name}-${process.pid}-${Math.random()}` }) }, ...(guard ? [{ plugin: windowsGuardPlugin() }] : [])];
  const r = await k.load(plugins);
  if (isLeft(r)) throw new Error(r.left.map(formatError).join('\n'));
  const call = async (m: string, input: unknown = {}): Promise<any> => {
    const res = await k.invoke('control', m, input);
    if (isLeft(res)) throw new Error(formatError(res.left));
    return res.right;
  };
  return { k, dir, call, invoke: (m: string, i: unknown) => k.invoke('control', m, i), svc: k.service('control')! };
}

async function close(...as: { k: Kernel; dir: string }[]) {
  for (const a of as) {
    await a.k.stop();
    await rm(a.dir, { recursive: true, force: true });
  }
}

test('a Windows node is refused on an encrypted network, by its own guard and by the manager\'s; naming the node and the reason', async () => {
  const m = await agent('mgr', 'linux', true);
  const win = await agent('winbox', 'windows', true);
  const winNoGuard = await agent('winbox2', 'windows', false);
  const lin = await agent('linbox', 'linux', false);
  try {
    const init = await m.call('Swarm.Init', { ListenAddr: '127.0.0.1:0' });
    const { Token } = await m.call('Swarm.JoinToken', { Role: 'worker' });
    for (const a of [win, winNoGuard, lin]) await a.call('Swarm.Join', { JoinToken: Token, RemoteAddrs: [init.ListenAddr] });
    await m.call('Network.Create', { Name: 'secure', Options: { encrypted: '' } });
    await m.call('Network.Create', { Name: 'plain' });
    await new Promise((r) => setTimeout(r, 100));
    // Refused locally (the node's own guard) ...
    const local = await win.invoke('Network.Attach', { Network: 'secure', Sandbox: 'app.1' });
    assert.ok(isLeft(local));
    if (isLeft(local)) {
      assert.is(local.left.category, 'Forbidden');
      assert.is(local.left.plugin, 'windows-guard');
      assert.match(local.left.message, 'node "winbox"');
      assert.match(local.left.message, 'runs Windows, which cannot encrypt overlay traffic');
      assert.match(local.left.message, 'network "secure" is encrypted');
    }
    // ... and on the manager for a node without the guard.
    const remote = await winNoGuard.invoke('Network.Attach', { Network: 'secure', Sandbox: 'app.2' });
    assert.ok(isLeft(remote));
    if (isLeft(remote)) {
      assert.match(remote.left.message, `node "winbox2" (${winNoGuard.svc.nodeId})`);
      assert.match(remote.left.message, 'runs Windows');
    }
    // Allowed: Windows on a plain network, Linux on the encrypted one.
    await win.call('Network.Attach', { Network: 'plain', Sandbox: 'app.3' });
    await lin.call('Network.Attach', { Network: 'secure', Sandbox: 'app.4' });
    const secure = await m.call('Network.Inspect', { Network: 'secure' });
    assert.equal(Object.values(secure.Attachments), [['app.4']]);
  } finally {
    await close(m, win, winNoGuard, lin);
  }
});

test.run();
