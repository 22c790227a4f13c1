/**
 * Root, in-process: the kernel path over an IPv6 underlay. Its vxlan devices take `local` as
 * IPv6 (IFLA_VXLAN_LOCAL6) and its FDB entries an IPv6 `dst`; a host on the kernel path and one on
 * the userspace switch share a dual-stack network over fd18:0:fe::/64 (ping v4 and v6 both ways,
 * TCP); a peer whose VTEP is IPv4 is refused, naming both addresses.
 */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { assertVtepFamilyRefused, connectPair } from '@weft/testing';
import { twoHosts, withLab } from '@weft/sys';
import { createVxlanDataPath, type VxlanDataPath } from '@weft/vxlan';
import { createKernelDataPath, type KernelDataPath } from './datapath.ts';
import { dropNamespaces, rootTest } from './testutil.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const A1 = 'fd18:0:fe::1';
const A2 = 'fd18:0:fe::2';
const net = { id: 'k6', vni: 5656, mtu: 1430, encrypted: false, internal: false, gateways: ['10.56.0.1/24', 'fd00:56::1/64'] };
const m1 = '02:42:0a:38:00:02';
const m2 = '02:42:0a:38:00:03';

rootTest('IPv6 underlay: kernel vxlan (local6, FDB dst v6) and the userspace switch share a dual-stack network; an IPv4 VTEP is refused', () =>
  withLab('k6', async (lab) => {
    const { h1, h2 } = twoHosts(lab);
    lab.exec(h1, 'ip', ['addr', 'add', `${A1}/64`, 'dev', 'ul0', 'nodad']);
    lab.exec(h2, 'ip', ['addr', 'add', `${A2}/64`, 'dev', 'ul0', 'nodad']);
    const s1 = lab.netns('s1');
    const s2 = lab.netns('s2');
    const prefix = `${lab.prefix}n-`;
    let kdp: KernelDataPath | undefined;
    let udp: VxlanDataPath | undefined;
    try {
      kdp = await createKernelDataPath({ dataPathAddr: A1, netns: h1, prefix, sweepMs: 600_000 });
      assert.is(kdp.unavailable, undefined, 'the kernel path is usable here');
      udp = await createVxlanDataPath({ dataPathAddr: A2, netns: h2 });
      await connectPair(
        net,
        { dataPath: kdp, vtep: A1, port: { endpointId: 'e1', mac: m1, ipv4: '10.56.0.2/24', ipv6: 'fd00:56::2/64', ifname: 'wftk61', dstName: 'eth0', netns: s1 }, peer: { node: 'h1', dataplane: 'kernel' } },
        { dataPath: udp, vtep: A2, port: { endpointId: 'e2', mac: m2, ipv4: '10.56.0.3/24', ipv6: 'fd00:56::3/64', ifname: 'wftk62', dstName: 'eth0', netns: s2 }, peer: { node: 'h2' } },
      );
      const ns = kdp.namespaceOf('k6')!;
      const link = lab.exec(ns, 'ip', ['-d', 'link', 'show', 'vxlan0']);
      assert.match(link, `local ${A1}`, `the vxlan device's local is the IPv6 VTEP:\n${link}`);
      const fdb = lab.exec(ns, 'bridge', ['fdb', 'show', 'dev', 'vxlan0']);
      assert.match(fdb, new RegExp(`${m2} dst ${A2} .*self permanent`), `an FDB entry to the IPv6 VTEP:\n${fdb}`);
      const cap = lab.spawn(h2, 'tcpdump', ['-i', 'ul0', '-n', '-l', 'udp port 4789']);
      let dump = '';
      cap.stdout?.on('data', (d: Buffer) => (dump += d.toString()));
      await sleep(800);
      lab.exec(s1, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.56.0.3']);
      lab.exec(s2, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.56.0.2']);
      lab.exec(s1, 'ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', 'fd00:56::3']);
      lab.exec(s2, 'ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', 'fd00:56::2']);
      // Full-size frames both ways: 1430 inside is 1500 on the wire.
      lab.exec(s1, 'ping', ['-c', '2', '-W', '2', '-M', 'do', '-s', String(1430 - 28), '10.56.0.3']);
      lab.exec(s2, 'ping', ['-c', '2', '-W', '2', '-M', 'do', '-s', String(1430 - 28), '10.56.0.2']);
      const srv = lab.spawn(s2, 'iperf3', ['-s', '-1', '-B', '10.56.0.3']);
      await sleep(400);
      const r = JSON.parse(lab.exec(s1, 'iperf3', ['-c', '10.56.0.3', '-t', '2', '-J'], { timeoutMs: 60_000 })) as { end: { sum_received: { bits_per_second: number } } };
      await lab.kill(srv);
      const gbps = r.end.sum_received.bits_per_second / 1e9;
      console.log(`  IPv6 underlay, kernel path → userspace switch: TCP ${gbps.toFixed(2)} Gbit/s`);
      assert.ok(gbps > 0.05, `TCP carried (${gbps} Gbit/s)`);
      await sleep(300);
      await lab.kill(cap, 'SIGINT');
      const lines = dump.split('\n').filter((l) => l.includes('VXLAN'));
      assert.ok(lines.length >= 12, `VXLAN on the underlay (${lines.length} lines)`);
      assert.ok(lines.every((l) => l.includes('IP6 fd18:0:fe::')), `every VXLAN datagram is UDP/IPv6:\n${lines.slice(0, 5).join('\n')}`);
      const dp = kdp;
      assertVtepFamilyRefused(() => dp.addPeer({ network: 'k6', mac: '02:42:0a:38:00:09', ipv4: '10.56.0.9', vtep: '198.18.0.9', node: 'h9' }), { node: 'h9', vtep: '198.18.0.9', vtepFamily: 4, local: A1, localFamily: 6 });
      assert.not.match(lab.exec(ns, 'bridge', ['fdb', 'show', 'dev', 'vxlan0']), '02:42:0a:38:00:09', 'nothing programmed for the refused peer');
      await kdp.removeNetwork('k6');
    } finally {
      await udp?.close();
      await kdp?.close();
      dropNamespaces(prefix);
    }
  }));

test.run();
