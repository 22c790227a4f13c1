/**
 * Root: warm ticks (`warmUs`). After traffic the worker wakes every warmUs for about a second,
 * then sleeps long again; with warmUs 0 it never ticks. Busy-polling (`spinUs`) stays within
 * `spinBudget`.
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
      // Third: warm ticks with busy-polling. A tick that finds nothing must not start a spin
      // (that kept the CPU a third busy): between the packets' spin and the end of the warm
      // second, ticks come every 2 ms, not one per tick + spin.
      // (No budget on the third, so that it cannot hide a spin after every tick.)
      for (const [warmUs, i, spinUs] of [[2000, 0, 0], [0, 1, 0], [2000, 2, 5000]] as const) {
        const dp = await createVxlanDataPath({ dataPathAddr: '127.0.0.1', dataPathPort: 40100 + i, netns: h, warmUs, spinUs, spinBudget: 1 });
        dps.push(dp);
        const net = { id: `w${i}`, vni: 0, mtu: 1500, encrypted: false, internal: false, gateways: [`10.8.${i}.1/24`] };
        await dp.ensureNetwork(net);
        await dp.addPort({ network: net.id, endpointId: `a${i}`, mac: `02:42:0a:08:0${i}:02`, ipv4: `10.8.${i}.2/24`, ifname: `wfwa${i}`, dstName: `eth${i}`, netns: s1 });
        await dp.addPort({ network: net.id, endpointId: `b${i}`, mac: `02:42:0a:08:0${i}:03`, ipv4: `10.8.${i}.3/24`, ifname: `wfwb${i}`, dstName: `eth${i}`, netns: s2 });
      }
      const [on, off, spin] = dps as [VxlanDataPath, VxlanDataPath, VxlanDataPath];
      pingOk(lab, s1, '10.8.0.3');
      pingOk(lab, s1, '10.8.1.3');
      pingOk(lab, s1, '10.8.2.3');
      await sleep(400);
      const early = ticks(on);
      assert.ok(early > 40, `warmUs 2000 ticked ${early} times in the 400 ms after traffic`);
      await sleep(1500);
      const settled = ticks(on);
      await sleep(600);
      assert.is(ticks(on), settled, 'no warm ticks once traffic is more than a second old');
      assert.ok(settled < 1200, `about a second of ticks, not more: ${settled}`);
      assert.is(ticks(off), 0, 'warmUs 0 never ticks');
      const spun = ticks(spin);
      // Measured: about as many ticks as without spinning (1054 against 876); with a spin after
      // every tick, 316 against 883.
      assert.ok(spun > ticks(on) / 2, `warmUs 2000 with spinUs 5000: ${spun} ticks, against ${ticks(on)} without spinning (a spin after every tick leaves about a third)`);
    } finally {
      for (const dp of dps) await dp.close();
    }
  }));

rootTest('busy-polling stays within its budget: a 1 s spin after each packet costs about spinBudget of a core, not a core', () =>
  withLab('spinb', async (lab) => {
    const h = lab.netns('h');
    const s1 = lab.netns('s1');
    const s2 = lab.netns('s2');
    for (const ns of [s1, s2]) lab.exec(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    const dps: VxlanDataPath[] = [];
    try {
      const cpu: number[] = [];
      const polls: number[] = [];
      for (const [spinBudget, i] of [[0.05, 0], [1, 1]] as const) {
        const dp = await createVxlanDataPath({ dataPathAddr: '127.0.0.1', dataPathPort: 40110 + i, netns: h, spinUs: 1_000_000, spinBudget });
        dps.push(dp);
        const net = { id: `b${i}`, vni: 0, mtu: 1500, encrypted: false, internal: false, gateways: [`10.9.${i}.1/24`] };
        await dp.ensureNetwork(net);
        await dp.addPort({ network: net.id, endpointId: `a${i}`, mac: `02:42:0a:09:0${i}:02`, ipv4: `10.9.${i}.2/24`, ifname: `wfsa${i}`, dstName: `eth${i}`, netns: s1 });
        await dp.addPort({ network: net.id, endpointId: `b${i}`, mac: `02:42:0a:09:0${i}:03`, ipv4: `10.9.${i}.3/24`, ifname: `wfsb${i}`, dstName: `eth${i}`, netns: s2 });
        // One packet, then a second of (would-be) spinning, measured as this process's CPU.
        lab.exec(s1, 'ping', ['-c', '1', '-W', '2', `10.9.${i}.3`]);
        const spinPolls = () => dp.counters()['vtep']?.['spin_polls'] ?? 0;
        const p0 = spinPolls();
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await sleep(1000);
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1000 / (performance.now() - t0));
        polls.push(spinPolls() - p0);
        assert.ok(spinPolls() > 0, 'it did busy-poll');
        await dp.close();
        dps.pop();
      }
      const [bounded, unbounded] = cpu as [number, number];
      const [boundedPolls, unboundedPolls] = polls as [number, number];
      console.log(`  the second after a packet: spinBudget 0.05 ${bounded.toFixed(2)} of a core, ${boundedPolls} polls; spinBudget 1 ${unbounded.toFixed(2)} of a core, ${unboundedPolls} polls`);
      // Load only lowers CPU: the bound holds on any machine.
      assert.ok(bounded < 0.3, `spinBudget 0.05: ${bounded.toFixed(2)} of a core over the second after a packet`);
      // The spinner yields to every other runnable thread, so on a busy machine an unbounded spin
      // gets far less than a core (0.17 seen in CI) and what each run gets depends on what else
      // runs at that moment (9,440 bounded vs 12,950 unbounded polls seen in CI): the comparison
      // says something only where the unbounded spinner got the core it asked for.
      assert.ok(unboundedPolls > 0, 'spinBudget 1 busy-polled in the second after a packet');
      if (unbounded >= 0.5) assert.ok(unbounded > 2 * bounded, `spinBudget 1 spins much more: ${unbounded.toFixed(2)} vs ${bounded.toFixed(2)} of a core`);
      else console.log(`  (the unbounded spinner got ${unbounded.toFixed(2)} of a core: this machine is too busy to compare the two)`);
      const err = await createVxlanDataPath({ dataPathAddr: '127.0.0.1', dataPathPort: 1, spinBudget: 2 }).then(() => undefined, (e: Error) => e);
      assert.match(String(err?.message), 'spinBudget 2 must be a fraction of a core from 0 to 1');
    } finally {
      for (const dp of dps) await dp.close();
    }
  }));

test.run();
