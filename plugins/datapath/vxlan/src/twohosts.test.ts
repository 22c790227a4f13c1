/** Root: two Weft hosts (agent processes) over a veth underlay; ARP never reaches the underlay. */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { twoHosts, withLab } from '@weft/sys';
import { pingOk, rootTest, startAgent } from './testutil.ts';
import type { AgentConfig } from './agent.ts';

const net = { id: 'n1', vni: 4242, mtu: 1450, encrypted: false, internal: false, gateways: ['10.7.0.1/24', 'fd00:7::1/64'] };
const m1 = '02:42:0a:07:00:02';
const m2 = '02:42:0a:07:00:03';

rootTest('two hosts: sandboxes ping each other both ways and the gateway; no ARP on the underlay', () =>
  withLab('two', async (lab) => {
    const { h1, h2, a1, a2 } = twoHosts(lab);
    const s1 = lab.netns('s1');
    const s2 = lab.netns('s2');
    const c1: AgentConfig = {
      dataPathAddr: a1, networks: [net],
      ports: [{ network: 'n1', endpointId: 'e1', mac: m1, ipv4: '10.7.0.2/24', ipv6: 'fd00:7::2/64', ifname: 'wfte1', dstName: 'eth0', netns: s1 }],
      peers: [{ network: 'n1', mac: m2, ipv4: '10.7.0.3', ipv6: 'fd00:7::3', vtep: a2 }],
    };
    const c2: AgentConfig = {
      dataPathAddr: a2, networks: [net],
      ports: [{ network: 'n1', endpointId: 'e2', mac: m2, ipv4: '10.7.0.3/24', ipv6: 'fd00:7::3/64', ifname: 'wfte2', dstName: 'eth0', netns: s2 }],
      peers: [{ network: 'n1', mac: m1, ipv4: '10.7.0.2', ipv6: 'fd00:7::2', vtep: a1 }],
    };
    await startAgent(lab, h1, c1);
    await startAgent(lab, h2, c2);
    // Capture on the underlay: every VXLAN packet, and separately any encapsulated ARP.
    const cap = lab.spawn(h2, 'tcpdump', ['-i', 'ul0', '-n', '-l', 'udp port 4789']);
    let dump = '';
    cap.stdout?.on('data', (d: Buffer) => (dump += d.toString()));
    await new Promise((r) => setTimeout(r, 1000));
    lab.exec(s1, 'ip', ['neigh', 'flush', 'all']);
    lab.exec(s2, 'ip', ['neigh', 'flush', 'all']);
    pingOk(lab, s1, '10.7.0.3');
    pingOk(lab, s2, '10.7.0.2');
    pingOk(lab, s1, '10.7.0.1');
    pingOk(lab, s2, '10.7.0.1');
    // IPv6: neighbour solicitations are answered locally too.
    pingOk(lab, s1, 'fd00:7::3');
    pingOk(lab, s2, 'fd00:7::2');
    assert.match(lab.exec(s1, 'ip', ['-6', 'neigh', 'show', 'fd00:7::3']), m2, 'ND proxy answered with the peer MAC');
    lab.run(s1, 'ping', ['-6', '-c', '1', '-W', '1', 'fd00:7::1']); // no ICMPv6 echo at the gateway yet, but ND resolves
    assert.match(lab.exec(s1, 'ip', ['-6', 'neigh', 'show', 'fd00:7::1']), '02:57:46:00:10:92', 'gateway answered ND');
    // An address nobody has: ARP is answered by nobody and nothing is flooded.
    assert.is.not(lab.run(s1, 'ping', ['-c', '1', '-W', '1', '10.7.0.99']).code, 0);
    const neigh = lab.exec(s1, 'ip', ['neigh', 'show', '10.7.0.3']);
    assert.match(neigh, m2, 'proxy ARP answered with the peer MAC');
    assert.match(lab.exec(s1, 'ip', ['neigh', 'show', '10.7.0.1']), '02:57:46:00:10:92', 'gateway MAC');
    await new Promise((r) => setTimeout(r, 500));
    await lab.kill(cap, 'SIGTERM');
    const lines = dump.split('\n').filter((l) => l.includes('VXLAN'));
    assert.ok(lines.length >= 12, `VXLAN traffic seen on the underlay (${lines.length} packets)`);
    assert.is(lines.filter((l) => /ARP|arp|neighbor sol/.test(l)).length, 0, `no ARP/ND inside VXLAN on the underlay:\n${lines.join('\n')}`);
    assert.ok(lines.every((l) => l.includes('vni 4242')), 'VNI 4242 on the wire');
  }));

test.run();
