/** Root: a Weft host interoperates with a Linux kernel vxlan device (static FDB/neighbour). */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { twoHosts, withLab } from '@weft/sys';
import { pingOk, rootTest, startAgent } from './testutil.ts';

const weftMac = '02:42:0a:09:00:02';
const kernMac = '02:42:0a:09:00:03';

rootTest('Weft sandbox <-> Linux vxlan device: ping both ways and an iperf3 TCP transfer each way, over IPv4 and IPv6', () =>
  withLab('krn', async (lab) => {
    const { h1, h2, a1, a2 } = twoHosts(lab);
    const s1 = lab.netns('s1');
    const k2 = lab.netns('k2');
    // Kernel side: vxlan device created on host 2 (socket and underlay there), moved into a sandbox.
    lab.exec(h2, 'ip', ['link', 'add', 'vx0', 'address', kernMac, 'mtu', '1450', 'type', 'vxlan', 'id', '777', 'dstport', '4789', 'local', a2, 'nolearning', 'dev', 'ul0']);
    lab.exec(h2, 'ip', ['link', 'set', 'vx0', 'netns', k2]);
    lab.exec(k2, 'ip', ['addr', 'add', '10.9.0.3/24', 'dev', 'vx0']);
    lab.exec(k2, 'ip', ['addr', 'add', 'fd00:9::3/64', 'dev', 'vx0', 'nodad']);
    lab.exec(k2, 'ip', ['link', 'set', 'vx0', 'up']);
    lab.exec(k2, 'bridge', ['fdb', 'append', weftMac, 'dev', 'vx0', 'dst', a1]);
    lab.exec(k2, 'ip', ['neigh', 'add', '10.9.0.2', 'lladdr', weftMac, 'dev', 'vx0', 'nud', 'permanent']);
    lab.exec(k2, 'ip', ['-6', 'neigh', 'add', 'fd00:9::2', 'lladdr', weftMac, 'dev', 'vx0', 'nud', 'permanent']);
    await startAgent(lab, h1, {
      dataPathAddr: a1,
      networks: [{ id: 'k', vni: 777, mtu: 1450, encrypted: false, internal: false, gateways: ['10.9.0.1/24', 'fd00:9::1/64'] }],
      ports: [{ network: 'k', endpointId: 'e1', mac: weftMac, ipv4: '10.9.0.2/24', ipv6: 'fd00:9::2/64', ifname: 'wftk1', dstName: 'eth0', netns: s1 }],
      peers: [{ network: 'k', mac: kernMac, ipv4: '10.9.0.3', ipv6: 'fd00:9::3', vtep: a2, external: true }],
    });
    pingOk(lab, s1, '10.9.0.3');
    pingOk(lab, k2, '10.9.0.2');
    // IPv6 (#22): the same static peer over IPv6 (proxy NDP answers for it on the Weft side).
    pingOk(lab, s1, 'fd00:9::3');
    pingOk(lab, k2, 'fd00:9::2');
    lab.exec(s1, 'ping', ['-6', '-c', '2', '-s', '1402', '-M', 'do', '-W', '2', 'fd00:9::3']);
    // Large pings exercise full-MTU frames (1450 inner) in both directions.
    lab.exec(s1, 'ping', ['-c', '2', '-s', '1422', '-M', 'do', '-W', '2', '10.9.0.3']);
    lab.exec(k2, 'ping', ['-c', '2', '-s', '1422', '-M', 'do', '-W', '2', '10.9.0.2']);
    for (const addr of ['10.9.0.3', 'fd00:9::3']) {
      const srv = lab.spawn(k2, 'iperf3', ['-s', '-B', addr]);
      await new Promise((r) => setTimeout(r, 300));
      try {
        for (const dir of [[], ['-R']]) {
          const r = JSON.parse(lab.exec(s1, 'iperf3', ['-c', addr, '-t', '2', '-J', ...dir], { timeoutMs: 20_000 })) as {
            end: { sum_received: { bits_per_second: number; bytes: number } };
          };
          const gbps = r.end.sum_received.bits_per_second / 1e9;
          console.log(`  iperf3 Weft ${dir.length ? '<-' : '->'} kernel vxlan over IPv${addr.includes(':') ? 6 : 4}: ${gbps.toFixed(2)} Gbit/s`);
          assert.ok(r.end.sum_received.bytes > 1e6, 'TCP data transferred');
        }
      } finally {
        await lab.kill(srv);
      }
    }
    const st = lab.exec(k2, 'ip', ['-s', 'link', 'show', 'vx0']);
    assert.match(st, /RX:/);
  }));

test.run();
