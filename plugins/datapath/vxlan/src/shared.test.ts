/**
 * Root: ports in a namespace many ports share (`PortSpec.sharedNetns`, the bare endpoints'): each
 * address a /32, the network's subnet and default routes on one port only, moved to another port
 * when that one goes; every endpoint answers throughout.
 */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { twoHosts, withLab } from '@weft/sys';
import { createVxlanDataPath, type VxlanDataPath } from './mod.ts';
import { pingOk, rootTest } from './testutil.ts';

const br = { id: 'sh1', vni: 0, mtu: 1500, encrypted: false, internal: false, gateways: ['10.9.0.1/24'] };
const mac = (i: number) => `02:42:0a:09:00:${i.toString(16).padStart(2, '0')}`;

rootTest('shared namespace: /32 addresses, one subnet and one default route, moved when their port goes', () =>
  withLab('shared', async (lab) => {
    const { h1, a1 } = twoHosts(lab);
    const sh = lab.netns('sh');
    const s1 = lab.netns('s1');
    let dp: VxlanDataPath | undefined;
    const routes = () => lab.exec(sh, 'ip', ['-4', 'route', 'show']).trim().split('\n').filter((l) => l !== '');
    try {
      dp = await createVxlanDataPath({ dataPathAddr: a1, netns: h1 });
      await dp.ensureNetwork(br);
      await dp.addPort({ network: br.id, endpointId: 'probe', mac: mac(10), ipv4: '10.9.0.10/24', ifname: 'wfsp', dstName: 'eth0', netns: s1 });
      for (let i = 2; i <= 5; i++) {
        await dp.addPort({ network: br.id, endpointId: `e${i}`, mac: mac(i), ipv4: `10.9.0.${i}/24`, ifname: `wfse${i}`, dstName: `wb${i}`, netns: sh, sharedNetns: true });
      }
      const addrs = lab.exec(sh, 'ip', ['-4', '-o', 'addr', 'show']);
      for (let i = 2; i <= 5; i++) assert.match(addrs, new RegExp(`wb${i}\\s+inet 10\\.9\\.0\\.${i}/32 `), `wb${i} holds its address as a /32:\n${addrs}`);
      let r = routes();
      assert.equal(r.filter((l) => l.startsWith('10.9.0.0/24')).length, 1, `one route to the subnet:\n${r.join('\n')}`);
      assert.equal(r.filter((l) => l.startsWith('default via 10.9.0.1')).length, 1, `one default route:\n${r.join('\n')}`);
      const holder = /10\.9\.0\.0\/24 dev (\S+)/.exec(r.join('\n'))![1]!;
      assert.is(holder, 'wb2', 'the first port took the routes');
      for (let i = 2; i <= 5; i++) pingOk(lab, s1, `10.9.0.${i}`, 1);
      // The port holding the routes goes: another takes them, the rest still answer.
      await dp.removePort(br.id, 'e2');
      r = routes();
      assert.equal(r.filter((l) => l.startsWith('10.9.0.0/24')).length, 1, `the subnet route moved:\n${r.join('\n')}`);
      assert.equal(r.filter((l) => l.startsWith('default via 10.9.0.1')).length, 1, `the default route moved:\n${r.join('\n')}`);
      assert.not.match(r.join('\n'), 'wb2');
      for (let i = 3; i <= 5; i++) pingOk(lab, s1, `10.9.0.${i}`, 1);
      assert.is.not(lab.run(s1, 'ping', ['-c', '1', '-W', '1', '10.9.0.2']).code, 0, 'the removed endpoint is gone');
      // A port that does not hold them goes: nothing moves.
      const now = /10\.9\.0\.0\/24 dev (\S+)/.exec(r.join('\n'))![1]!;
      const other = ['wb3', 'wb4', 'wb5'].find((d) => d !== now)!;
      await dp.removePort(br.id, `e${other.slice(2)}`);
      assert.match(routes().join('\n'), `10.9.0.0/24 dev ${now} `);
      for (const e of ['e3', 'e4', 'e5']) await dp.removePort(br.id, e);
      assert.equal(routes(), [], 'no route left once every port is gone');
      assert.equal(lab.exec(sh, 'ip', ['-o', 'link', 'show']).trim().split('\n').filter((l) => !/: lo:/.test(l)), [], 'no device left');
    } finally {
      await dp?.close();
    }
  }));

test.run();
