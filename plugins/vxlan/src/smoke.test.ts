import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rootSkipReason, twoHosts, withLab } from '@weft/sys';
import { createVxlanDataPath, type VxlanDataPath } from './mod.ts';

const skip = rootSkipReason();
const rootTest = (name: string, fn: () => Promise<void>) => {
  if (skip !== undefined) test(name, () => console.log(`  skipped "${name}": ${skip}`));
  else test(name, fn);
};

rootTest('two hosts in one process: sandboxes ping each other and the gateway', () =>
  withLab('smk', async (lab) => {
    const { h1, h2, a1, a2 } = twoHosts(lab);
    const s1 = lab.netns('s1');
    const s2 = lab.netns('s2');
    const dps: VxlanDataPath[] = [];
    try {
      for (const [h, a] of [[h1, a1], [h2, a2]] as const) dps.push(await createVxlanDataPath({ dataPathAddr: a, netns: h, offload: process.env['WEFT_OFFLOAD'] !== '0' }));
      const [d1, d2] = dps as [VxlanDataPath, VxlanDataPath];
      const net = { id: 'n1', vni: 4242, mtu: 1450, encrypted: false, internal: false, gateways: ['10.7.0.1/24'] };
      await d1.ensureNetwork(net);
      await d2.ensureNetwork(net);
      await d1.addPort({ network: 'n1', endpointId: 'e1', mac: '02:42:0a:07:00:02', ipv4: '10.7.0.2/24', ifname: 'wfte1', dstName: 'eth0', netns: s1 });
      await d2.addPort({ network: 'n1', endpointId: 'e2', mac: '02:42:0a:07:00:03', ipv4: '10.7.0.3/24', ifname: 'wfte2', dstName: 'eth0', netns: s2 });
      d1.addPeer({ network: 'n1', mac: '02:42:0a:07:00:03', ipv4: '10.7.0.3', vtep: a2 });
      d2.addPeer({ network: 'n1', mac: '02:42:0a:07:00:02', ipv4: '10.7.0.2', vtep: a1 });
      console.log(lab.exec(s1, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.7.0.3']));
      console.log(lab.exec(s2, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.7.0.2']));
      console.log(lab.exec(s1, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.7.0.1']));
      console.log(JSON.stringify(d1.counters()));
      assert.ok(true);
    } finally {
      for (const d of dps) await d.close();
    }
  }));

test.run();
