/**
 * Hostile traffic generator for agent.test.ts, run inside an attacker namespace on the
 * underlay (nsenter --net=...). Prints one JSON line with what it sent.
 *
 *   garbage.ts udp HOST PORT COUNT          random and mutated datagrams
 *   garbage.ts tcp HOST PORT CONNS          connections writing random bytes, some 1 MiB, some slow
 *   garbage.ts vxlan HOST VNI MAC IP COUNT  plaintext VXLAN carrying UDP to MAC/IP (port 9)
 *   garbage.ts sealed HOST COUNT            envelope-shaped datagrams (SPI ‖ seq ‖ ciphertext ‖ tag)
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { encodeVxlan, writeEthHeader, writeIPv4Header, writeUdpHeader, parseIPv4, parseMac, ETHERTYPE_IPV4, IPPROTO_UDP } from '@weft/net';

const [mode, host, ...rest] = process.argv.slice(2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function udp(port: number, count: number, make: (i: number) => Uint8Array): Promise<number> {
  const s = dgram.createSocket('udp4');
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const b = make(i);
    bytes += b.length;
    await new Promise<void>((r) => s.send(b, port, host!, () => r()));
    if (i % 200 === 199) await sleep(5);
  }
  s.close();
  return bytes;
}

function random(i: number): Uint8Array {
  const kinds = [() => randomBytes(1 + (i % 1400)), () => new Uint8Array(0), () => randomBytes(65_000), () => Uint8Array.of(i & 255)];
  return kinds[i % kinds.length]!();
}

/** Ethernet/IPv4/UDP to dstMac/dstIp port 9, inside a VXLAN header for `vni`. */
function vxlanFrame(vni: number, dstMac: string, dstIp: string, i: number): Uint8Array {
  const payload = new TextEncoder().encode(`weft-forged-${i}`);
  const b = new Uint8Array(8 + 14 + 20 + 8 + payload.length);
  b.set(encodeVxlan(vni));
  const mac = parseMac(dstMac);
  const ip = parseIPv4(dstIp);
  if (!mac.ok || !ip.ok) throw new Error(`bad target ${dstMac} ${dstIp}`);
  writeEthHeader(b, 8, mac.value, 0x02_42_c6_12_32_c8, ETHERTYPE_IPV4);
  writeIPv4Header(b, 22, { payloadLength: 8 + payload.length, protocol: IPPROTO_UDP, src: ((ip.value & ~0xff) | 200) >>> 0, dst: ip.value, ttl: 64 });
  writeUdpHeader(b, 42, 40000, 9, 8 + payload.length);
  b.set(payload, 50);
  return b;
}

async function tcp(port: number, conns: number): Promise<{ opened: number; refused: number }> {
  let opened = 0;
  let refused = 0;
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const s = net.connect({ host: host!, port });
      s.on('error', () => {
        refused++;
        resolve();
      });
      s.on('close', () => resolve());
      s.on('connect', async () => {
        opened++;
        const big = i % 10 === 0;
        try {
          if (i % 7 === 3) {
            // slow drip
            for (let k = 0; k < 5 && !s.destroyed; k++) {
              s.write(randomBytes(3));
              await sleep(50);
            }
          } else s.write(big ? randomBytes(1 << 20) : randomBytes(1 + ((i * 37) % 4000)));
          // Valid-looking prefixes: gossip stream types and the control magic.
          if (i % 5 === 1) s.write(Buffer.concat([Buffer.from([i % 2 === 0 ? 6 : 9, 0xdf, 0xff, 0xff, 0xff, 0xff]), randomBytes(100)]));
          if (i % 5 === 2) s.write(Buffer.concat([Buffer.from('WFT1'), Buffer.from([i % 3]), randomBytes(64), Buffer.from([0xff, 0xff, 0xff, 0xff])]));
        } catch {
          /* reset */
        }
        setTimeout(() => s.destroy(), 200);
      });
    });
  for (let i = 0; i < conns; i += 10) await Promise.all(Array.from({ length: Math.min(10, conns - i) }, (_, k) => one(i + k)));
  return { opened, refused };
}

let out: unknown;
if (mode === 'udp') {
  const [port, count] = rest.map(Number) as [number, number];
  // Every 3rd datagram starts like a real one of that port: VXLAN header, gossip compound or compress.
  out = {
    bytes: await udp(port, count, (i) => {
      const r = random(i);
      if (i % 3 === 0 && r.length > 8) r.set(port === 4789 || port === 4790 ? encodeVxlan(i & 0xffffff) : Uint8Array.of(i % 2 === 0 ? 7 : 9, 0xff));
      return r;
    }),
    count,
  };
} else if (mode === 'tcp') {
  const [port, conns] = rest.map(Number) as [number, number];
  out = await tcp(port, conns);
} else if (mode === 'vxlan') {
  // An optional fifth argument: the VXLAN port (4789, the kernel path; 4790, the userspace switch).
  const [vni, mac, ip, count, port] = rest as [string, string, string, string, string | undefined];
  out = { bytes: await udp(Number(port ?? 4789), Number(count), (i) => vxlanFrame(Number(vni), mac, ip, i)), count: Number(count) };
} else if (mode === 'sealed') {
  const count = Number(rest[0]);
  const port = Number(rest[1] ?? 4789);
  // SPI (≥ 256) ‖ 64-bit sequence ‖ random ciphertext and tag, as the envelope is laid out.
  out = {
    bytes: await udp(port, count, (i) => {
      const b = randomBytes(12 + 64 + 16);
      b.writeUInt32BE(256 + ((i * 2654435761) >>> 8), 0);
      return b;
    }),
    count,
  };
} else {
  console.error('usage: garbage.ts udp|tcp|vxlan|sealed HOST ...');
  process.exit(2);
}
console.log(JSON.stringify(out));
