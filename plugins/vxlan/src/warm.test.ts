/**
 * Root: warm ticks (`warmUs`). After traffic the worker wakes every warmUs for about a second,
 * then sleeps long again; with warmUs 0 it never ticks.
 */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { withLab } from '@weft/sys';
import { createVxlanDataPath, type VxlanDataPath } from './mod.ts';
import { pingOk, rootTest } from './testutil.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

rootTest('warm ticks: frequent wake-ups for about a second after traffic, then none; none when off', () =>
  withLab('warm', async (lab) => {
    const h = lab.netns('h');
    const s1 = lab.netns('s1');
    const s2 = lab.netns('s2');
    const dps: VxlanDataPath[] = [];
    // No IPv6 in the sandboxes: its router solicitations and MLD reports are traffic too, and
    // would keep the ticks going.
    for (const ns of [s1, s2]) lab.exec(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    try {
      const ticks = (dp: VxlanDataPath): number => dp.counters()['vtep']?.['warm_ticks'] ?? 0;
      for (const [warmUs, i] of [[2000, 0], [0, 1]] as const) {
        const dp = await createVxlanDataPath({ dataPathAddr: '127.0.0.1', dataPathPort: 40100 + i, netns: h, warmUs });
        dps.push(dp);
        const net = { id: `w${i}`, vni: 0, mtu: 1500, encrypted: false, internal: false, gateways: [`10.8.${i}.1/24`] };
        await dp.ensureNetwork(net);
        await dp.addPort({ network: net.id, endpointId: `a${i}`, mac: `02:42:0a:08:0${i}:02`, ipv4: `10.8.${i}.2/24`, ifname: `wfwa${i}`, dstName: `eth${i}`, netns: s1 });
        await dp.addPort({ network: net.id, endpointId: `b${i}`, mac: `02:42:0a:08:0${i}:03`, ipv4: `10.8.${i}.3/24`, ifname: `wfwb${i}`, dstName: `eth${i}`, netns: s2 });
      }
      const [on, off] = dps as [VxlanDataPath, VxlanDataPath];
      pingOk(lab, s1, '10.8.0.3');
      pingOk(lab, s1, '10.8.1.3');
      await sleep(400);
      const early = ticks(on);
      assert.ok(early > 40, `warmUs 2000 ticked ${early} times in the 400 ms after traffic`);
      await sleep(1500);
      const settled = ticks(on);
      await sleep(600);
      assert.is(ticks(on), settled, 'no warm ticks once traffic is more than a second old');
      assert.ok(settled < 1200, `about a second of ticks, not more: ${settled}`);
      assert.is(ticks(off), 0, 'warmUs 0 never ticks');
    } finally {
      for (const dp of dps) await dp.close();
    }
  }));

test.run();
