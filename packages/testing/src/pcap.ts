/**
 * Reading what `tcpdump -w` captured (classic pcap, Ethernet, IPv4): the UDP and TCP packets, and
 * their payloads joined per flow direction in capture order, so that a name split across TCP
 * segments is still found. For tests that check what crosses the underlay in clear, and for
 * benchmarks that count bytes on a port.
 */
import * as fs from 'node:fs';

export interface CapturedPacket {
  readonly proto: 'udp' | 'tcp';
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  /** IP total length: the bytes this packet took on the wire above Ethernet. */
  readonly ipLength: number;
  readonly payload: Buffer;
}

export interface CapturedFlow {
  readonly proto: 'udp' | 'tcp';
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  /** Payloads in capture order, joined. */
  readonly data: Buffer;
}

/** UDP and TCP packets of a pcap file (link type Ethernet); other frames are skipped. */
export function readPcap(file: string): CapturedPacket[] {
  return parsePcap(fs.readFileSync(file), file);
}

/** `readPcap` on bytes already read; `name` labels errors. */
export function parsePcap(b: Buffer, name = 'the capture'): CapturedPacket[] {
  if (b.length < 24) return [];
  const magic = b.readUInt32LE(0);
  if (magic !== 0xa1b2c3d4 && magic !== 0xd4c3b2a1) throw new Error(`${name} is not a classic pcap file (magic ${magic.toString(16)}); capture with tcpdump -w`);
  const le = magic === 0xa1b2c3d4;
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  if (u32(20) !== 1) throw new Error(`${name}: link type ${u32(20)}, expected 1 (Ethernet)`);
  const out: CapturedPacket[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const incl = u32(o + 8);
    const p = b.subarray(o + 16, Math.min(b.length, o + 16 + incl));
    o += 16 + incl;
    if (p.length < 34 || p.readUInt16BE(12) !== 0x0800) continue;
    const ip = p.subarray(14);
    const ihl = (ip[0]! & 0x0f) * 4;
    const ipLength = ip.readUInt16BE(2);
    const proto = ip[9];
    if (proto !== 17 && proto !== 6) continue;
    const l4 = ip.subarray(ihl, Math.min(ip.length, ipLength));
    if (l4.length < (proto === 17 ? 8 : 20)) continue;
    out.push({
      proto: proto === 17 ? 'udp' : 'tcp',
      src: `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`,
      dst: `${ip[16]}.${ip[17]}.${ip[18]}.${ip[19]}`,
      sport: l4.readUInt16BE(0),
      dport: l4.readUInt16BE(2),
      ipLength,
      payload: Buffer.from(l4.subarray(proto === 17 ? 8 : (l4[12]! >> 4) * 4)),
    });
  }
  return out;
}

/** Packets to or from `port`, joined per flow direction. */
export function flowsOnPort(packets: readonly CapturedPacket[], port: number): CapturedFlow[] {
  const flows = new Map<string, { f: Omit<CapturedFlow, 'data'>; chunks: Buffer[] }>();
  for (const p of packets) {
    if (p.sport !== port && p.dport !== port) continue;
    const key = `${p.proto} ${p.src}:${p.sport} ${p.dst}:${p.dport}`;
    let e = flows.get(key);
    if (e === undefined) flows.set(key, (e = { f: { proto: p.proto, src: p.src, dst: p.dst, sport: p.sport, dport: p.dport }, chunks: [] }));
    if (p.payload.length > 0) e.chunks.push(p.payload);
  }
  return [...flows.values()].map(({ f, chunks }) => ({ ...f, data: Buffer.concat(chunks) }));
}

/** A byte string to look for, and how to name it when found. */
export interface Needle {
  readonly what: string;
  readonly bytes: Buffer;
}

/** A name or dotted address as text; an IPv4 address also as its 4 bytes; a MAC as text and 6 bytes. */
export const needles = {
  text: (what: string, s: string): Needle[] => [{ what: `${what} ${JSON.stringify(s)}`, bytes: Buffer.from(s) }],
  ipv4: (what: string, ip: string): Needle[] => [
    { what: `${what} ${ip}`, bytes: Buffer.from(ip) },
    { what: `${what} ${ip} (4 bytes)`, bytes: Buffer.from(ip.split('.').map(Number)) },
  ],
  mac: (what: string, mac: string): Needle[] => [
    { what: `${what} ${mac}`, bytes: Buffer.from(mac) },
    { what: `${what} ${mac} (6 bytes)`, bytes: Buffer.from(mac.split(':').map((x) => parseInt(x, 16))) },
  ],
};

/** Which needles occur in which flows, as readable lines ("node name "x" in udp a → b"). */
export function findInFlows(flows: readonly CapturedFlow[], list: readonly Needle[]): string[] {
  const found = new Set<string>();
  for (const f of flows) for (const n of list) if (f.data.includes(n.bytes)) found.add(`${n.what} in ${f.proto} ${f.src}:${f.sport} → ${f.dst}:${f.dport}`);
  return [...found];
}
