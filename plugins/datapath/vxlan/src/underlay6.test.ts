/**
 * Root, in-process: the userspace switch over an IPv6 underlay (AF_INET6 sockets, `sockaddr_in6`
 * peers, senders known by `vtepKey6`). Two hosts on fd18:0:ff::/64: a dual-stack network pings
 * and carries TCP both ways; an encrypted one too, with nothing but envelopes on the wire; a
 * peer whose VTEP is IPv4 is refused, naming both addresses; the MTU check counts 70 bytes.
 */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { assertVtepFamilyRefused, connectPair } from '@weft/testing';
import { readFileSync } from 'node:fs';
import { twoHosts, withLab, type Lab } from '@weft/sys';
import { isLeft } from 'fp-ts/lib/Either.js';
import { createKernel, formatError, initialRing, toKeyRing, type Cipher, type Kernel } from '@weft/kernel';
import { sodiumPlugin } from '@weft/sodium';
import { createVxlanDataPath, type VxlanDataPath } from './mod.ts';
import { pingOk, rootTest } from './testutil.ts';
import { vtepKey6 } from './layout.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const A1 = 'fd18:0:ff::1';
const A2 = 'fd18:0:ff::2';

test('vtepKey6: the same key from the same 16 bytes wherever they lie, different for neighbours', () => {
  const a = new Uint8Array([0xfd, 0x18, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  const b = new Uint8Array(40);
  b.set(a, 8);
  assert.is(vtepKey6(a, 0), vtepKey6(b, 8));
  const seen = new Set<number>();
  for (let i = 0; i < 4096; i++) {
    a[14] = i >> 8;
    a[15] = i & 255;
    seen.add(vtepKey6(a, 0));
  }
  assert.is(seen.size, 4096, 'no two of 4,096 consecutive addresses share a key');
});

/** Two hosts with IPv6 underlay addresses (nodad: usable at once) beside the IPv4 ones. */
function v6Hosts(lab: Lab, mtu = 1500): { h1: string; h2: string } {
  const { h1, h2 } = twoHosts(lab, mtu);
  lab.exec(h1, 'ip', ['addr', 'add', `${A1}/64`, 'dev', 'ul0', 'nodad']);
  lab.exec(h2, 'ip', ['addr', 'add', `${A2}/64`, 'dev', 'ul0', 'nodad']);
  return { h1, h2 };
}

async function sodium(): Promise<{ cipher: Cipher; kernel: Kernel }> {
  const kernel = createKernel();
  const r = await kernel.load([{ plugin: sodiumPlugin, config: {} }]);
  if (isLeft(r)) throw new Error(r.left.map(formatError).join('; '));
  return { cipher: kernel.service('cipher')!, kernel };
}

/** UDP payloads to port 4789 over IPv6 in a pcap file (Ethernet link type). */
function vxlan6Payloads(file: string): Buffer[] {
  const b = readFileSync(file);
  const out: Buffer[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const incl = b.readUInt32LE(o + 8);
    const f = o + 16;
    o = f + incl;
    if (incl < 62 || b.readUInt16BE(f + 12) !== 0x86dd || b[f + 14 + 6] !== 17) continue;
    const udp = f + 14 + 40;
    if (b.readUInt16BE(udp + 2) !== 4789) continue;
    out.push(Buffer.from(b.subarray(udp + 8, f + incl)));
  }
  return out;
}

const iperf = async (lab: Lab, server: string, client: string, addr: string): Promise<number> => {
  const srv = lab.spawn(server, 'iperf3', ['-s', '-1', '-B', addr]);
  await sleep(400);
  try {
    const r = JSON.parse(lab.exec(client, 'iperf3', ['-c', addr, '-t', '2', '-J'], { timeoutMs: 60_000 })) as { end: { sum_received: { bits_per_second: number } } };
    return r.end.sum_received.bits_per_second / 1e9;
  } finally {
    await lab.kill(srv);
  }
};

rootTest('IPv6 underlay, plaintext dual-stack network: ping v4 and v6 both ways, TCP both families, VXLAN in UDP/IPv6 on the wire', () =>
  withLab('u6p', async (lab) => {
    const { h1, h2 } = v6Hosts(lab);
    const s1 = lab.netns('s1');
    const s2 = lab.netns('s2');
    const dps: VxlanDataPath[] = [];
    try {
      const dp1 = await createVxlanDataPath({ dataPathAddr: A1, netns: h1 });
      dps.push(dp1);
      const dp2 = await createVxlanDataPath({ dataPathAddr: A2.toUpperCase().replace('::', ':0:0:0:0:'), netns: h2 }); // any spelling of the address
      dps.push(dp2);
      const net = { id: 'n6', vni: 4646, mtu: 1430, encrypted: false, internal: false, gateways: ['10.46.0.1/24', 'fd00:46::1/64'] };
      await connectPair(
        net,
        // h2 knows h1's VTEP by another spelling of A1.
        { dataPath: dp1, vtep: 'fd18:0:ff:0::1', port: { endpointId: 'e1', mac: '02:42:0a:2e:00:02', ipv4: '10.46.0.2/24', ipv6: 'fd00:46::2/64', ifname: 'wftu61', dstName: 'eth0', netns: s1 }, peer: { node: 'h1' } },
        { dataPath: dp2, vtep: A2, port: { endpointId: 'e2', mac: '02:42:0a:2e:00:03', ipv4: '10.46.0.3/24', ipv6: 'fd00:46::3/64', ifname: 'wftu62', dstName: 'eth0', netns: s2 }, peer: { node: 'h2' } },
      );
      const cap = lab.spawn(h2, 'tcpdump', ['-i', 'ul0', '-n', '-l', 'udp port 4789']);
      let dump = '';
      cap.stdout?.on('data', (d: Buffer) => (dump += d.toString()));
      await sleep(800);
      pingOk(lab, s1, '10.46.0.3');
      pingOk(lab, s2, '10.46.0.2');
      pingOk(lab, s1, 'fd00:46::3');
      pingOk(lab, s2, 'fd00:46::2');
      // Full-size frames: 1430 bytes inside, 1500 outside (the MTU accounting is right, or this is lost).
      lab.exec(s1, 'ping', ['-c', '2', '-W', '2', '-M', 'do', '-s', String(1430 - 28), '10.46.0.3']);
      lab.exec(s1, 'ping', ['-6', '-c', '2', '-W', '2', '-M', 'do', '-s', String(1430 - 48), 'fd00:46::3']);
      const g4 = await iperf(lab, s2, s1, '10.46.0.3');
      const g6 = await iperf(lab, s1, s2, 'fd00:46::2');
      console.log(`  IPv6 underlay, userspace switch: TCP over inner IPv4 ${g4.toFixed(2)} Gbit/s, inner IPv6 ${g6.toFixed(2)} Gbit/s`);
      assert.ok(g4 > 0.05 && g6 > 0.05, `TCP carried (${g4}, ${g6} Gbit/s)`);
      await sleep(300);
      await lab.kill(cap, 'SIGINT');
      const lines = dump.split('\n').filter((l) => l.includes('VXLAN'));
      assert.ok(lines.length >= 8, `VXLAN on the underlay (${lines.length} lines)`);
      assert.ok(lines.every((l) => l.includes('IP6 fd18:0:ff::')), `every VXLAN datagram is UDP/IPv6 between the VTEPs:\n${lines.slice(0, 5).join('\n')}`);
      const peers = dp1.stats!().networks[0]!.peerList;
      assert.is(peers[0]!.vtep, A2);
      assert.ok((peers[0]!.counters['rx_packets'] ?? 0) > 0, 'frames from the peer counted on its row (sender known by its IPv6 address)');
      // A VTEP of the other family is refused, with both addresses named.
      assertVtepFamilyRefused(() => dp1.addPeer({ network: 'n6', mac: '02:42:0a:2e:00:09', ipv4: '10.46.0.9', vtep: '198.18.0.9', node: 'h9' }), { node: 'h9', vtep: '198.18.0.9', vtepFamily: 4, local: A1, localFamily: 6 });
    } finally {
      for (const d of dps) await d.close();
    }
  }));

rootTest('IPv6 underlay, encrypted network: ping and TCP, only envelopes in UDP/IPv6 on the wire; the MTU check counts 70 bytes of VXLAN', () =>
  withLab('u6e', async (lab) => {
    const { h1, h2 } = v6Hosts(lab);
    const s1 = lab.netns('s1');
    const s2 = lab.netns('s2');
    const { cipher: c1, kernel: k1 } = await sodium();
    const { cipher: c2, kernel: k2 } = await sodium();
    const ring = toKeyRing(initialRing(1));
    c1.setKeyRing(ring);
    c2.setKeyRing(ring);
    const dps: VxlanDataPath[] = [];
    const pcap = `/tmp/${lab.prefix}u6e.pcap`;
    try {
      const dp1 = await createVxlanDataPath({ dataPathAddr: A1, netns: h1, cipher: c1 });
      dps.push(dp1);
      const dp2 = await createVxlanDataPath({ dataPathAddr: A2, netns: h2, cipher: c2 });
      dps.push(dp2);
      // 1430 less the 28-byte envelope, rounded down to 4: what the overlay gives an encrypted network on IPv6.
      const net = { id: 'e6', vni: 4647, mtu: 1400, encrypted: true, internal: false, gateways: ['10.47.0.1/24'] };
      await connectPair(
        net,
        { dataPath: dp1, vtep: A1, port: { endpointId: 'e1', mac: '02:42:0a:2f:00:02', ipv4: '10.47.0.2/24', ifname: 'wftu63', dstName: 'eth0', netns: s1 } },
        { dataPath: dp2, vtep: A2, port: { endpointId: 'e2', mac: '02:42:0a:2f:00:03', ipv4: '10.47.0.3/24', ifname: 'wftu64', dstName: 'eth0', netns: s2 } },
      );
      pingOk(lab, s1, '10.47.0.3');
      const cap = lab.spawn(h2, 'tcpdump', ['-i', 'ul0', '-n', '-U', '-w', pcap, 'udp port 4789']);
      await sleep(800);
      const marker = 'c0ffeec0ffee5eca1ed6';
      lab.exec(s1, 'ping', ['-c', '5', '-i', '0.1', '-s', '1000', '-p', marker, '10.47.0.3']);
      lab.exec(s1, 'ping', ['-c', '2', '-W', '2', '-M', 'do', '-s', String(1400 - 28), '10.47.0.3']);
      const g = await iperf(lab, s2, s1, '10.47.0.3');
      console.log(`  IPv6 underlay, encrypted (sodium): TCP ${g.toFixed(2)} Gbit/s`);
      assert.ok(g > 0.02, `TCP carried (${g} Gbit/s)`);
      await sleep(300);
      await lab.kill(cap, 'SIGINT');
      await sleep(200);
      const got = vxlan6Payloads(pcap);
      assert.ok(got.length > 50, `captured ${got.length} UDP/IPv6 datagrams`);
      assert.is(readFileSync(pcap).indexOf(Buffer.from(marker, 'hex')), -1, 'the ping pattern appears nowhere in the capture');
      for (const p of got) assert.is.not(p.readUInt32BE(0), 0x08000000, 'no plaintext VXLAN header on the wire');
      const host = dp2.counters()['vtep'] ?? {};
      assert.ok((host['rx_opened'] ?? 0) > 0, 'envelopes opened');
      assert.is(host['drop_auth'] ?? 0, 0, 'no envelope failed to open (the sender was matched to its session by its IPv6 address)');
      // An underlay of 1450 cannot carry 1400 + 28 + 70: refused with the arithmetic, over IPv6.
      lab.exec(h1, 'ip', ['link', 'set', 'ul0', 'mtu', '1450']);
      const dp3 = await createVxlanDataPath({ dataPathAddr: A1, dataPathPort: 4800, netns: h1, cipher: c1 });
      dps.push(dp3);
      await dp3.ensureNetwork({ ...net, id: 'e6b', vni: 4648 });
      try {
        await dp3.addPort({ network: 'e6b', endpointId: 'e3', mac: '02:42:0a:2f:00:04', ipv4: '10.47.0.4/24', ifname: 'wftu65', dstName: 'eth0', netns: s1 });
        assert.unreachable('a port was added over an underlay too small');
      } catch (e) {
        const msg = String((e as { error?: { message?: string } }).error?.message ?? e);
        assert.match(msg, 'MTU 1450, too small');
        assert.match(msg, '98 bytes of VXLAN over IPv6 and encryption');
      }
    } finally {
      for (const d of dps) await d.close();
      await k1.stop();
      await k2.stop();
    }
  }));

test.run();
