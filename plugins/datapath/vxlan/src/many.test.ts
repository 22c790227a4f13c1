/**
 * Root: many ports on one host. Past EPOLL_FROM (64) TAPs the worker waits in epoll and reads
 * only ready TAPs; below it, poll(2) over all of them. Traffic must flow in both modes and across
 * the switch-over, and removed ports' TAPs must be gone.
 */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { linkShow, twoHosts, withLab } from '@weft/sys';
import { createVxlanDataPath, type VxlanDataPath } from './mod.ts';
import { EPOLL_FROM, MAX_PORTS } from './layout.ts';
import { pingOk, rootTest } from './testutil.ts';

const net = { id: 'many', vni: 0, mtu: 1500, encrypted: false, internal: false, gateways: ['10.9.0.1/16'] };
const N = 100;
const mac = (i: number) => `02:42:0a:09:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const addr = (i: number) => `10.9.${(i + 10) >> 8}.${(i + 10) & 255}`;

rootTest(`${N} ports in one namespace: traffic in epoll mode (> ${EPOLL_FROM} TAPs), then back in poll mode`, () =>
  withLab('many', async (lab) => {
    assert.ok(MAX_PORTS >= 16384, 'capacity for 10,000 endpoints');
    const { h1, a1 } = twoHosts(lab);
    const s1 = lab.netns('s1');
    const hold = lab.netns('hold');
    let dp: VxlanDataPath | undefined;
    try {
      dp = await createVxlanDataPath({ dataPathAddr: a1, netns: h1 });
      await dp.ensureNetwork(net);
      await dp.addPort({ network: 'many', endpointId: 's1', mac: '02:42:0a:09:ff:01', ipv4: '10.9.255.1/16', ifname: 'wfs1', dstName: 'eth0', netns: s1 });
      // The kernel of `hold` answers for every address there (one namespace, like bare endpoints).
      for (let i = 0; i < N; i++) {
        await dp.addPort({ network: 'many', endpointId: `p${i}`, mac: mac(i), ipv4: `${addr(i)}/16`, ifname: `wfp${i}`, dstName: `p${i}`, netns: hold });
      }
      assert.is(dp.portCount?.(), N + 1);
      for (const i of [0, 37, 99]) pingOk(lab, s1, addr(i), 2);
      const c = dp.counters('many');
      assert.ok((c['port/p37']?.['tx_packets'] ?? 0) >= 2, `frames reached p37: ${JSON.stringify(c['port/p37'])}`);
      // Down to 40 ports: the worker goes back to poll(2).
      for (let i = 40; i < N; i++) await dp.removePort('many', `p${i}`);
      assert.is(dp.portCount?.(), 41);
      assert.is(linkShow('p99', hold), undefined, 'a removed port\'s TAP is gone');
      for (const i of [0, 39]) pingOk(lab, s1, addr(i), 2);
      assert.is.not(lab.run(s1, 'ping', ['-c', '1', '-W', '1', addr(50)]).code, 0, 'a removed port does not answer');
    } finally {
      await dp?.close();
    }
  }));

test.run();
