/**
 * Root: local-only networks (VNI 0, the bridge driver's): ports switch locally, networks stay
 * apart, no VXLAN datagram — whatever VNI it carries — ever reaches them, and they take no peers.
 */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { twoHosts, withLab } from '@weft/sys';
import { createVxlanDataPath, type VxlanDataPath } from './mod.ts';
import { pingOk, rootTest, sendRaw } from './testutil.ts';

const br1 = { id: 'br1', vni: 0, mtu: 1500, encrypted: false, internal: false, gateways: ['10.8.0.1/24'] };
const br2 = { id: 'br2', vni: 0, mtu: 1500, encrypted: false, internal: false, gateways: ['10.8.1.1/24'] };

rootTest('local-only networks: local switching, isolation, no VXLAN ingress, no peers', () =>
  withLab('local', async (lab) => {
    const { h1, h2, a1, a2 } = twoHosts(lab);
    const s1 = lab.netns('s1');
    const s2 = lab.netns('s2');
    const s3 = lab.netns('s3');
    let dp: VxlanDataPath | undefined;
    try {
      dp = await createVxlanDataPath({ dataPathAddr: a1, netns: h1 });
      await dp.ensureNetwork(br1);
      await dp.ensureNetwork(br2); // a second VNI-0 network is not a conflict
      await dp.addPort({ network: 'br1', endpointId: 'a', mac: '02:42:0a:08:00:02', ipv4: '10.8.0.2/24', ifname: 'wfla', dstName: 'eth0', netns: s1 });
      await dp.addPort({ network: 'br1', endpointId: 'b', mac: '02:42:0a:08:00:03', ipv4: '10.8.0.3/24', ifname: 'wflb', dstName: 'eth0', netns: s2 });
      await dp.addPort({ network: 'br2', endpointId: 'c', mac: '02:42:0a:08:01:02', ipv4: '10.8.1.2/24', ifname: 'wflc', dstName: 'eth0', netns: s3 });
      pingOk(lab, s1, '10.8.0.3');
      pingOk(lab, s1, '10.8.0.1'); // the gateway answers on a local network too
      // br2's sandbox is in another network: not reachable (not even by a static neighbour entry).
      lab.exec(s1, 'ip', ['route', 'replace', '10.8.1.0/24', 'dev', 'eth0']);
      lab.exec(s1, 'ip', ['neigh', 'replace', '10.8.1.2', 'lladdr', '02:42:0a:08:01:02', 'dev', 'eth0', 'nud', 'permanent']);
      assert.is.not(lab.run(s1, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', '10.8.1.2']).code, 0, 'networks are isolated');
      // Peers are refused.
      assert.throws(() => dp!.addPeer({ network: 'br1', mac: '02:42:0a:08:00:09', ipv4: '10.8.0.9', vtep: a2 }), /local only/);
      // VXLAN with VNI 0 (and with the small ids a local network might have had) never gets in.
      const before = dp.counters()['vtep'] ?? {};
      const rxA = dp.counters('br1')['port/a']?.['tx_packets'] ?? 0;
      for (const vni of [0, 1, 2]) {
        const f = Buffer.alloc(8 + 14 + 28);
        f.writeUInt32BE(0x08000000, 0);
        f.writeUInt32BE(vni << 8, 4);
        Buffer.from('02420a080002', 'hex').copy(f, 8); // to sandbox a
        Buffer.from('02420a0800ff', 'hex').copy(f, 14);
        f.writeUInt16BE(0x0800, 20);
        sendRaw(lab, h2, a2, a1, f);
      }
      await new Promise((r) => setTimeout(r, 300));
      const after = dp.counters()['vtep'] ?? {};
      assert.is((after['drop_unknown_vni'] ?? 0) - (before['drop_unknown_vni'] ?? 0), 3, `dropped as unknown VNIs: ${JSON.stringify(after)}`);
      assert.is(dp.counters('br1')['port/a']?.['tx_packets'] ?? 0, rxA, 'nothing delivered to the sandbox');
      let refused = '';
      try {
        await dp.ensureNetwork({ ...br1, id: 'br3', encrypted: true });
      } catch (e) {
        refused = String(e);
      }
      assert.match(refused, 'cannot be encrypted');
    } finally {
      await dp?.close();
    }
  }));

test.run();
