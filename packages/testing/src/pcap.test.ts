import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Buffer } from 'node:buffer';
import { findInFlows, flowsOnPort, needles, parsePcap } from './pcap.ts';

/** One Ethernet/IPv4 frame carrying `l4` (a UDP or TCP header plus payload). */
function frame(proto: 6 | 17, src: number[], dst: number[], l4: Buffer): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + l4.length, 2);
  ip[8] = 64;
  ip[9] = proto;
  Buffer.from(src).copy(ip, 12);
  Buffer.from(dst).copy(ip, 16);
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  return Buffer.concat([eth, ip, l4]);
}
const udp = (sport: number, dport: number, payload: string) => {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, Buffer.from(payload)]);
};
const tcp = (sport: number, dport: number, payload: string) => {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h[12] = 5 << 4;
  return Buffer.concat([h, Buffer.from(payload)]);
};

function pcap(frames: Buffer[]): Buffer {
  const g = Buffer.alloc(24);
  g.writeUInt32LE(0xa1b2c3d4, 0);
  g.writeUInt16LE(2, 4);
  g.writeUInt16LE(4, 6);
  g.writeUInt32LE(262144, 16);
  g.writeUInt32LE(1, 20);
  const recs = frames.map((f) => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(f.length, 8);
    h.writeUInt32LE(f.length, 12);
    return Buffer.concat([h, f]);
  });
  return Buffer.concat([g, ...recs]);
}

test('pcap: UDP and TCP packets, flows per direction, needles across TCP segments', () => {
  const a = [198, 18, 0, 1];
  const b = [198, 18, 0, 2];
  const bytes = pcap([
    frame(17, a, b, udp(7946, 7946, 'ping node-alpha')),
    frame(6, b, a, tcp(40000, 7946, 'push/pull: sandbox-na')),
    frame(6, b, a, tcp(40000, 7946, 'me-one at 10.0.0.7')),
    frame(17, a, b, udp(53, 53, 'node-alpha elsewhere')),
  ]);
  {
    const pkts = parsePcap(bytes);
    assert.is(pkts.length, 4);
    assert.equal(pkts[0]!.ipLength, 20 + 8 + 'ping node-alpha'.length);
    const flows = flowsOnPort(pkts, 7946);
    assert.is(flows.length, 2);
    const found = findInFlows(flows, [...needles.text('node', 'node-alpha'), ...needles.text('sandbox', 'sandbox-name-one'), ...needles.ipv4('addr', '10.0.0.7'), ...needles.text('absent', 'nope')]);
    assert.equal(found.sort(), [
      'addr 10.0.0.7 in tcp 198.18.0.2:40000 → 198.18.0.1:7946',
      'node "node-alpha" in udp 198.18.0.1:7946 → 198.18.0.2:7946',
      'sandbox "sandbox-name-one" in tcp 198.18.0.2:40000 → 198.18.0.1:7946',
    ]);
    assert.equal(needles.mac('m', '02:42:0a:00:00:07')[1]!.bytes, Buffer.from([2, 0x42, 10, 0, 0, 7]));
  }
});

test('pcap: a file that is not a pcap is refused with a clear error', () => {
  assert.throws(() => parsePcap(Buffer.alloc(40, 1), 'bad.pcap'), /bad.pcap is not a classic pcap/);
});

test.run();
