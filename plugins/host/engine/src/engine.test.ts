/**
 * The engine with real network namespaces (root), the real IPAM, and a local-scope driver.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, getJson, memoryStore, putJson, WeftException, type Engine, type Kernel, type NetDef } from '@weft/kernel';
import { ipamPlugin } from '@weft/ipam';
import { exampleStatic } from '@weft/example-static';
import { enginePlugin, linuxSandboxHost } from './mod.ts';

const root = typeof process.getuid === 'function' && process.getuid() === 0;
const prefix = `wft-e${process.pid}-`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-engine-'));

async function boot(store = memoryStore()): Promise<{ k: Kernel; e: Engine }> {
  const k = createKernel({ store });
  const r = await k.load([
    { plugin: ipamPlugin() },
    { plugin: exampleStatic('static') },
    { plugin: enginePlugin(linuxSandboxHost(path.join(tmp, 'etc'))), config: { node: 'h1', ipam: 'ipam', drivers: { static: 'static' }, logDir: path.join(tmp, 'logs'), nsPrefix: prefix } },
  ]);
  if (isLeft(r)) throw new Error(r.left.map((e) => e.message).join('; '));
  return { k, e: k.service('engine')! };
}

const netnsList = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof WeftException ? `${e.error.category}: ${e.error.message}` : String(e);
  }
};

test.after(() => {
  for (const l of netnsList().split('\n')) {
    const ns = l.split(' ')[0];
    if (ns?.startsWith(prefix)) execFileSync('ip', ['netns', 'del', ns]);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

if (!root) {
  test('engine (skipped: needs root for network namespaces)', () => {
    console.log('  skipped: the engine tests create network namespaces; run as root');
  });
} else {
  test('local network: create, sandbox with resolv.conf and hostname, detached command, remove', async () => {
    const { k, e } = await boot();
    try {
      assert.match(await code(e.createNetwork({ Name: 'bad name!' })), /BadRequest: invalid network name/);
      assert.match(await code(e.createNetwork({ Name: 'x', Driver: 'nope' })), /plugin "nope" not found/);
      assert.match(await code(e.createNetwork({ Name: 'o1', Driver: 'overlay' })), /plugin "overlay" not found/);
      // #22: a network whose IPv6 subnet could never be used is refused at create, and nothing is left behind.
      assert.match(await code(e.createNetwork({ Name: 'v6', Driver: 'static', IPAM: { Config: [{ Subnet: '10.78.0.0/24' }, { Subnet: 'fd00:60::/64' }] } })), /BadRequest: Cannot create network "v6": subnet fd00:60::\/64 is IPv6 but the network does not enable IPv6/);
      assert.match(await code(e.createNetwork({ Name: 'v6', Driver: 'static', EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fe80::/64' }] } })), /link-local range fe80::\/10/);
      assert.match(await code(e.resolve('v6')), /NotFound/);
      assert.match(await code(e.createNetwork({ Name: 'v6', Driver: 'static', IPAM: { Config: [{ Subnet: '10.78.0.0/24' }] } })), /^ok$/);
      await e.removeNetwork('v6');
      const n = await e.createNetwork({ Name: 'web', Driver: 'static', IPAM: { Config: [{ Subnet: '10.77.0.0/24', Gateway: '10.77.0.1' }] } });
      assert.match(await code(e.createNetwork({ Name: 'web', Driver: 'static' })), /Conflict: network with name web already exists/);
      const view = await e.networkView(await e.resolve('web'));
      assert.is(view.Id, n.Id);
      assert.equal(view.IPAM.Config, [{ Subnet: '10.77.0.0/24', Gateway: '10.77.0.1' }]);
      const sb = await e.createSandbox({ Name: 'alpine1', Networks: [{ Name: 'web' }], Cmd: ['sleep', '30'] });
      assert.is(sb.Networks.web?.IPAddress, '10.77.0.2/24');
      assert.ok(netnsList().includes(`${prefix}alpine1`));
      assert.is(fs.readFileSync(path.join(tmp, 'etc', `${prefix}alpine1`, 'resolv.conf'), 'utf8').includes('nameserver 10.77.0.1'), true);
      assert.is(fs.readFileSync(path.join(tmp, 'etc', `${prefix}alpine1`, 'hostname'), 'utf8'), 'alpine1\n');
      assert.is((await e.sandbox('alpine1')).State, 'running');
      assert.match(await code(e.createSandbox({ Name: 'alpine1' })), /Conflict: The sandbox name "alpine1" is already in use/);
      assert.match(await code(e.removeNetwork('web')), /Conflict: .*has active endpoints \(alpine1\)/);
      assert.match(await code(e.removeSandbox('alpine1', false)), /Conflict: You cannot remove a running sandbox/);
      assert.match(await code(e.connect('web', 'alpine1', undefined, [])), /Conflict: endpoint with name alpine1 already exists in network web/);
      const pid = (await e.sandbox('alpine1')).Pid;
      await e.removeSandbox('alpine1', true);
      assert.ok(!netnsList().includes(`${prefix}alpine1`), 'namespace removed');
      let alive = true;
      try { process.kill(pid, 0); } catch { alive = false; }
      assert.is(alive, false, 'command killed');
      // the address went back to the pool
      const again = await e.createSandbox({ Name: 'alpine2', Networks: [{ Name: 'web', IPAddress: '10.77.0.2' }] });
      assert.is(again.Networks.web?.IPAddress, '10.77.0.2/24');
      assert.match(await code(e.createSandbox({ Name: 'alpine3', Networks: [{ Name: 'web', IPAddress: '10.77.0.2' }] })), /Conflict/);
      assert.ok(!netnsList().includes(`${prefix}alpine3`), 'a failed create leaves no namespace behind');
      await e.disconnect('web', 'alpine2', false);
      assert.equal((await e.sandbox('alpine2')).Networks, {});
      await e.removeSandbox('alpine2', false);
      await e.removeNetwork('web');
      assert.match(await code(e.resolve('web')), /NotFound: network "web" not found/);
    } finally {
      await k.stop();
    }
  });

  test('ingress network: only service tasks and mesh helpers attach; remove checks run first; local drivers refused', async () => {
    const store = memoryStore();
    const { k, e } = await boot(store);
    try {
      assert.match(await code(e.createNetwork({ Name: 'ing0', Driver: 'static', Ingress: true })), /BadRequest: .*an ingress network must be a swarm overlay network/);
      // Ingress networks are swarm networks (the control plane's); mark a local one so, to exercise the attach rule here.
      const n = await e.createNetwork({ Name: 'ing', Driver: 'static', IPAM: { Config: [{ Subnet: '10.79.0.0/24' }] } });
      const key = (await store.keys('')).find((x) => x.endsWith(`networks/${n.Id}`));
      assert.ok(key !== undefined, "the engine's record of the network");
      const def = (await getJson<NetDef>(store, key))!;
      await putJson(store, key, { ...def, Ingress: true });
      assert.is((await e.networkView(await e.resolve('ing'))).Ingress, true, 'inspect shows Ingress: true');
      assert.match(await code(e.createSandbox({ Name: 'plain', Networks: [{ Name: 'ing' }] })), /Forbidden: Could not attach to network ing: .*ingress network .*not manually attachable/);
      assert.ok(!netnsList().includes(`${prefix}plain`), 'the refused create left nothing');
      await e.createSandbox({ Name: 'other' });
      assert.match(await code(e.connect('ing', 'other', undefined, [])), /Forbidden: .*not manually attachable/);
      const helper = await e.createSandbox({ Name: 'helper', Networks: [{ Name: 'ing' }] }, { service: '', slot: 0, endpointMode: 'dnsrr' });
      assert.is(helper.Networks.ing?.IPAddress.startsWith('10.79.0.'), true, 'a mesh helper attaches');
      const task = await e.createSandbox({ Name: 'task', Networks: [{ Name: 'ing' }] }, { service: 's', slot: 1, endpointMode: 'vip' });
      assert.ok(task.Networks.ing !== undefined, 'a service task attaches');
      await e.removeSandbox('helper', true);
      await e.removeSandbox('task', true);
      await e.removeSandbox('other', true);
      const seen: string[] = [];
      const off = e.addRemoveCheck((d) => {
        seen.push(d.Name);
        if (d.Ingress === true) throw new Error('ingress network cannot be removed because service s depends on it');
      });
      assert.match(await code(e.removeNetwork('ing')), /because service s depends on it/);
      assert.equal(seen, ['ing'], 'the check sees the resolved network');
      off();
      await e.removeNetwork('ing');
    } finally {
      await k.stop();
    }
  });

  test("Docker's container lifecycle: stop leaves the networks and keeps the sandbox exited; start attaches again; images pick the command; -dit keeps a shell", async () => {
    const { k, e } = await boot();
    try {
      await e.createNetwork({ Name: 'life', Driver: 'static', IPAM: { Config: [{ Subnet: '10.81.0.0/24' }] } });
      // -dit alpine: /bin/sh on an open stdin (a FIFO) waits instead of exiting.
      const sh = await e.createSandbox({ Name: 'alpine2', Networks: [{ Name: 'life', Aliases: ['a2'] }], Image: 'alpine', OpenStdin: true });
      assert.equal([sh.Cmd, sh.Image, sh.State], [['/bin/sh'], 'alpine', 'running']);
      await new Promise((r) => setTimeout(r, 500));
      assert.is((await e.sandbox('alpine2')).State, 'running', 'the shell is still waiting');
      // nginx: the HTTP stand-in on port 80.
      const web = await e.createSandbox({ Name: 'web', Networks: [{ Name: 'life' }], Image: 'nginx:latest' });
      assert.is(web.Cmd[0], process.execPath);
      let page = '';
      for (let i = 0; i < 50 && !page.includes('Welcome to Weft'); i++) {
        try {
          page = execFileSync('ip', ['netns', 'exec', `${prefix}web`, 'busybox', 'wget', '-q', '-O', '-', 'http://127.0.0.1:80/'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      // (its page names /etc/hostname, which `ip netns exec` binds from /etc/netns; this test writes those files elsewhere)
      assert.match(page, /Welcome to Weft.*Served by/s);
      assert.match(await code(e.createSandbox({ Name: 'db', Image: 'postgres' })), /BadRequest: image "postgres" has no command Weft knows/);
      assert.ok(!netnsList().includes(`${prefix}db`), 'refused before anything was made');
      // stop: the command ends, the network is left (its address released), the sandbox stays, exited.
      const ip = sh.Networks.life!.IPAddress;
      await e.stopSandbox('alpine2', { timeoutMs: 2000 });
      const stopped = await e.sandbox('alpine2');
      assert.equal([stopped.State, stopped.Networks, stopped.ExitCode !== null], ['exited', {}, true]);
      assert.equal(Object.values((await e.networkView(await e.resolve('life'))).Containers).map((c) => c.Name), ['web']);
      assert.match(await code(e.connect('life', 'alpine2', undefined, [])), /Conflict: sandbox "alpine2" is stopped/);
      await e.removeSandbox('alpine2', false); // a stopped sandbox goes without -f
      // start brings the networks and the command back (same aliases).
      await e.createSandbox({ Name: 'job', Networks: [{ Name: 'life', IPAddress: '10.81.0.50', Aliases: ['j'] }], Cmd: ['sleep', '30'] });
      await e.stopSandbox('job', { timeoutMs: 500 });
      const again = await e.startSandbox('job');
      assert.equal([again.State, again.Networks.life?.IPAddress, again.Networks.life?.Aliases], ['running', '10.81.0.50/24', ['j']]);
      // An attached command (the client runs it): running until the client reports its exit.
      const fg = await e.createSandbox({ Name: 'fg', Networks: [{ Name: 'life' }], Image: 'busybox', Attached: true });
      assert.equal([fg.Cmd, fg.State, fg.Pid], [['/bin/sh'], 'running', 0]);
      assert.match(await code(e.removeSandbox('fg', false)), /Conflict: You cannot remove a running sandbox/);
      await e.stopSandbox('fg', { exitCode: 3 });
      assert.equal([(await e.sandbox('fg')).State, (await e.sandbox('fg')).ExitCode], ['exited', 3]);
      for (const n of ['fg', 'job', 'web']) await e.removeSandbox(n, true);
      assert.ok(ip !== '');
      await e.removeNetwork('life');
    } finally {
      await k.stop();
    }
  });

  test('state survives an agent restart over the same store', async () => {
    const store = memoryStore();
    let { k, e } = await boot(store);
    await e.createNetwork({ Name: 'db', Driver: 'static', IPAM: { Config: [{ Subnet: '10.78.0.0/24' }] } });
    await e.createSandbox({ Name: 'pg', Networks: [{ Name: 'db', Aliases: ['postgres'] }] });
    await k.stop();
    ({ k, e } = await boot(store));
    try {
      const sb = await e.sandbox('pg');
      assert.is(sb.Networks.db?.IPAddress, '10.78.0.2/24');
      assert.equal(sb.Networks.db?.Aliases, ['postgres']);
      const view = await e.networkView(await e.resolve('db'));
      assert.equal(Object.values(view.Containers).map((c) => c.Name), ['pg']);
      assert.equal(view.Utilisation, [{ Subnet: '10.78.0.0/24', Used: 2, Total: 254 }], 'gateway + pg of 254 usable');
      await e.removeSandbox('pg', true);
      await e.removeNetwork('db');
    } finally {
      await k.stop();
    }
  });
}

test.run();
