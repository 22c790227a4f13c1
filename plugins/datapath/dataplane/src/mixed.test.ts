/**
 * Root: one network, two hosts, two data paths. Host 1 carries it on the kernel's vxlan (auto),
 * host 2 is forced to the userspace switch; both run both paths behind the dispatcher, on their
 * own UDP ports. Ping and TCP both ways prove the wire is the same (and that the switch sends
 * kernel peers complete inner checksums, which a Linux vxlan device never re-derives).
 */
import { isRight } from 'fp-ts/lib/Either.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKernel, type DataPath, type Kernel } from '@weft/kernel';
import { kernelVxlanPlugin } from '@weft/kernel-vxlan';
import { vxlanPlugin } from '@weft/vxlan';
import { rootSkipReason, twoHosts, withLab } from '@weft/sys';
import { dataplanePlugin } from './mod.ts';

const skip = rootSkipReason();
const rootTest = (name: string, fn: () => Promise<void>) => (skip !== undefined ? test(name, () => console.log(`  skipped "${name}": ${skip}`)) : test(name, fn));

async function host(addr: string, ns: string, prefix: string, hostDefault: 'auto' | 'userspace'): Promise<{ kernel: Kernel; dp: DataPath }> {
  const kernel = createKernel();
  const r = await kernel.load([
    { plugin: kernelVxlanPlugin(), config: { dataPathAddr: addr, netns: ns, prefix, dataPathPort: 4789 } },
    { plugin: vxlanPlugin({ service: 'datapath.userspace' }), config: { dataPathAddr: addr, netns: ns, dataPathPort: 4790, sourcePorts: 1 } },
    { plugin: dataplanePlugin(), config: { hostDefault } },
  ]);
  if (!isRight(r)) throw new Error(`did not load: ${JSON.stringify(r.left)}`);
  return { kernel, dp: kernel.service('datapath')! };
}

rootTest('a kernel-path host and a userspace-path host share one network: ping and TCP both ways', () =>
  withLab('mix', async (lab) => {
    const { h1, h2, a1, a2 } = twoHosts(lab);
    const s1 = lab.netns('s1');
    const s2 = lab.netns('s2');
    const kernels: Kernel[] = [];
    try {
      const one = await host(a1, h1, `${lab.prefix}k1-`, 'auto');
      kernels.push(one.kernel);
      const two = await host(a2, h2, `${lab.prefix}k2-`, 'userspace');
      kernels.push(two.kernel);
      const n = { id: 'mixed', vni: 7800, mtu: 1450, encrypted: false, internal: false, gateways: ['10.78.0.1/24'] };
      await one.dp.ensureNetwork(n);
      await two.dp.ensureNetwork(n);
      const p1 = one.dp.placement!('mixed')!;
      const p2 = two.dp.placement!('mixed')!;
      assert.equal(p1, { dataplane: 'kernel', vtepPort: 4789 });
      assert.equal(p2, { dataplane: 'userspace', vtepPort: 4790 });
      await one.dp.addPort({ network: 'mixed', endpointId: 'e1', mac: '02:42:0a:4e:00:02', ipv4: '10.78.0.2/24', ifname: 'wftmx1', dstName: 'eth0', netns: s1 });
      await two.dp.addPort({ network: 'mixed', endpointId: 'e2', mac: '02:42:0a:4e:00:03', ipv4: '10.78.0.3/24', ifname: 'wftmx2', dstName: 'eth0', netns: s2 });
      // What the overlay driver does from the endpoint records: the owner's path and port.
      one.dp.addPeer({ network: 'mixed', mac: '02:42:0a:4e:00:03', ipv4: '10.78.0.3', vtep: a2, vtepPort: p2.vtepPort, dataplane: p2.dataplane });
      two.dp.addPeer({ network: 'mixed', mac: '02:42:0a:4e:00:02', ipv4: '10.78.0.2', vtep: a1, vtepPort: p1.vtepPort, dataplane: p1.dataplane });
      lab.exec(s1, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.78.0.3']);
      lab.exec(s2, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.78.0.2']);
      lab.exec(s1, 'ping', ['-c', '1', '-s', '1422', '-M', 'do', '-W', '2', '10.78.0.3']);
      const nsOf = `${lab.prefix}k1-mixed`;
      assert.match(lab.exec(nsOf, 'ip', ['-d', 'link', 'show', 'vxlan0']), /vxlan id 7800 local 198\.18\.0\.1 .*dstport 4789 .*nolearning .*proxy/s);
      const before = one.dp.counters('mixed')['vxlan/mixed']!;
      const srv = lab.spawn(s2, 'iperf3', ['-s', '-B', '10.78.0.3']);
      await new Promise((r) => setTimeout(r, 400));
      try {
        for (const dir of [[], ['-R']]) {
          const r = JSON.parse(lab.exec(s1, 'iperf3', ['-c', '10.78.0.3', '-t', '2', '-J', ...dir], { timeoutMs: 20_000 })) as { end: { sum_received: { bits_per_second: number; bytes: number } } };
          console.log(`  TCP kernel ${dir.length > 0 ? '<-' : '->'} userspace: ${(r.end.sum_received.bits_per_second / 1e9).toFixed(2)} Gbit/s`);
          assert.ok(r.end.sum_received.bytes > 1e6, 'TCP data moved');
        }
      } finally {
        await lab.kill(srv);
      }
      const after = one.dp.counters('mixed')['vxlan/mixed']!;
      assert.ok(after['tx_packets']! > before['tx_packets']! && after['rx_packets']! > before['rx_packets']!, `the kernel's vxlan0 counted the traffic: ${JSON.stringify(after)}`);
      assert.ok(one.dp.counters('mixed')['port/e1']!['rx_packets']! > 0, "the sandbox's veth counted it too");
      await one.dp.removePort('mixed', 'e1');
      await one.dp.removeNetwork('mixed');
      assert.not.ok(lab.exec(h1, 'ip', ['netns', 'list']).includes(`${lab.prefix}k1-mixed`), 'the network namespace is gone');
      assert.not.match(lab.exec(h1, 'ss', ['-uan']), /:4789\b/, 'and the vxlan socket with it');
    } finally {
      for (const k of kernels) await k.stop();
      for (const p of ['k1-mixed', 'k2-mixed']) lab.run(h1, 'ip', ['netns', 'del', `${lab.prefix}${p}`]);
    }
  }));

test.run();
