/** Root, in-process: local switching, unknown unicast, MTU check at attach, port removal. */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { linkShow, twoHosts, withLab } from '@weft/sys';
import { createVxlanDataPath, type VxlanDataPath } from './mod.ts';
import { pingOk, rootTest } from './testutil.ts';

const net = { id: 'sw', vni: 300, mtu: 1450, encrypted: false, internal: false, gateways: ['10.5.0.1/24'] };

rootTest('one host: two local ports switch directly; unknown unicast is dropped and counted; removePort deletes the TAP', () =>
  withLab('sw', async (lab) => {
    const { h1, a1 } = twoHosts(lab);
    const s1 = lab.netns('s1');
    const s2 = lab.netns('s2');
    let dp: VxlanDataPath | undefined;
    try {
      dp = await createVxlanDataPath({ dataPathAddr: a1, netns: h1 });
      await dp.ensureNetwork(net);
      await dp.addPort({ network: 'sw', endpointId: 'a', mac: '02:42:0a:05:00:02', ipv4: '10.5.0.2/24', ifname: 'wfta', dstName: 'eth0', netns: s1 });
      await dp.addPort({ network: 'sw', endpointId: 'b', mac: '02:42:0a:05:00:03', ipv4: '10.5.0.3/24', ifname: 'wftb', dstName: 'eth0', netns: `/run/netns/${s2}` }); // a path, like Docker's SandboxKey
      pingOk(lab, s1, '10.5.0.3');
      assert.is(dp.portCount?.(), 2, 'two ports attached');
      // TCP between local ports: super-frames pass through unsegmented.
      const srv = lab.spawn(s2, 'iperf3', ['-s', '-1', '-B', '10.5.0.3']);
      await new Promise((r) => setTimeout(r, 300));
      lab.exec(s1, 'iperf3', ['-c', '10.5.0.3', '-t', '1'], { timeoutMs: 15_000 });
      await lab.kill(srv);
      // A static neighbour entry for a MAC the switch does not know: the frame must be dropped.
      lab.exec(s1, 'ip', ['neigh', 'replace', '10.5.0.50', 'lladdr', '02:42:0a:05:00:32', 'dev', 'eth0', 'nud', 'permanent']);
      assert.is.not(lab.run(s1, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', '10.5.0.50']).code, 0);
      const c = dp.counters('sw');
      assert.ok((c['port/a']?.['drop_unknown_unicast'] ?? 0) >= 2, JSON.stringify(c['port/a']));
      assert.ok((c['port/b']?.['tx_packets'] ?? 0) > 100, 'frames delivered to port b');
      await dp.removePort('sw', 'b');
      assert.is(dp.portCount?.(), 1, 'the count follows removals');
      assert.is(linkShow('eth0', s2), undefined, 'TAP deleted with the port');
      assert.is(dp.counters('sw')['port/b'], undefined);
    } finally {
      await dp?.close();
    }
  }));

rootTest('an underlay that cannot carry the overlay MTU is reported at attach, with the fix', () =>
  withLab('mtu', async (lab) => {
    const { h1, a1 } = twoHosts(lab, 1450);
    const s1 = lab.netns('s1');
    let dp: VxlanDataPath | undefined;
    try {
      dp = await createVxlanDataPath({ dataPathAddr: a1, netns: h1 });
      await dp.ensureNetwork(net);
      let err = '';
      try {
        await dp.addPort({ network: 'sw', endpointId: 'a', mac: '02:42:0a:05:00:02', ipv4: '10.5.0.2/24', ifname: 'wfta', dstName: 'eth0', netns: s1 });
      } catch (e) {
        err = String(e);
      }
      assert.match(err, 'Underlay interface "ul0" has MTU 1450');
      assert.match(err, 'com.docker.network.driver.mtu=1400');
      // Honouring a smaller network MTU works and sets it on the sandbox's interface.
      await dp.ensureNetwork({ ...net, id: 'small', vni: 301, mtu: 1400 });
      await dp.addPort({ network: 'small', endpointId: 'b', mac: '02:42:0a:05:00:03', ipv4: '10.5.0.3/24', ifname: 'wftb', dstName: 'eth0', netns: s1 });
      assert.is(linkShow('eth0', s1)?.mtu, 1400);
    } finally {
      await dp?.close();
    }
  }));

test.run();
