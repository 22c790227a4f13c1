/**
 * DNS message codec (RFC 1035 §4) sized for an embedded resolver: parse
 * queries and responses (with name compression, RFC 1035 §4.1.4, and EDNS
 * OPT, RFC 6891), build queries and responses (A, AAAA, CNAME, PTR or raw
 * records; NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...).
 *
 * Names are in presentation form without the trailing dot ("web.mynet"; the
 * root is "."). Bytes outside printable ASCII and "." or "\" inside a label are
 * escaped as \DDD / \. / \\ (RFC 1035 §5.1), so every name read can be
 * written back. Comparison is ASCII case-insensitive (RFC 4343): use
 * `dnsNameEquals` / `normalizeDnsName`. Questions are echoed with the case
 * the client sent (clients using 0x20 randomisation check this).
 */
import { type Result, ok, err } from './result.ts';
import { type IP, ipv4, ipv6, readIPv4, writeIPv4, ipv6FromBytes, ipv6ToBytes } from './ip.ts';

export const DNS_TYPE = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255,
} as const;
export const DNS_CLASS_IN = 1;
export const DNS_RCODE = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16,
} as const;
export const DNS_OPCODE_QUERY = 0;
export const DNS_HEADER_LEN = 12;
/** Classic UDP limit without EDNS (RFC 1035 §2.3.4). */
export const DNS_UDP_MIN = 512;
/** EDNS buffer size we advertise (DNS flag day 2020 recommendation). */
export const DNS_EDNS_UDP_SIZE = 1232;
const MAX_NAME_WIRE = 255;
const MAX_POINTER_HOPS = 127;

export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

export interface DnsRecord {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  /** Raw RDATA (a view into the parsed buffer; copy it to keep it). */
  readonly rdata: Uint8Array;
  /** Decoded A / AAAA address. */
  readonly address?: IP;
  /** Decoded CNAME / PTR / NS target. */
  readonly target?: string;
}

export interface DnsEdns {
  readonly udpSize: number;
  /** Upper 8 bits of the 12-bit extended RCODE. */
  readonly extendedRcode: number;
  readonly version: number;
  readonly dnssecOk: boolean;
}

export interface DnsMessage {
  readonly id: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly ad: boolean;
  readonly cd: boolean;
  /** Full RCODE: header 4 bits plus the EDNS extended bits when an OPT record is present. */
  readonly rcode: number;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  /** Additional records except the OPT pseudo-record, which is in `edns`. */
  readonly additionals: readonly DnsRecord[];
  readonly edns?: DnsEdns;
}

// ---------------------------------------------------------------------------
// Names

/** Lowercases ASCII letters and strips one trailing dot (except for the root "."). */
export const normalizeDnsName = (name: string): string => {
  let n = name.length > 1 && name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  if (n === '') n = '.';
  return n.replace(/[A-Z]+/g, (m) => m.toLowerCase());
};

/** ASCII case-insensitive name comparison (RFC 4343), ignoring a trailing dot. */
export const dnsNameEquals = (a: string, b: string): boolean => normalizeDnsName(a) === normalizeDnsName(b);

let nameEnd = 0; // out-parameter of readName: offset after the name at its original position

/**
 * Reads a possibly compressed name at `pos`. Pointers must point strictly
 * backwards (to an offset before the label holding them), which together with
 * the hop limit makes loops impossible. Returns `undefined` on any violation.
 */
const readName = (buf: Uint8Array, msg: number, pos: number, end: number): string | undefined => {
  let p = pos;
  let out = '';
  let wire = 0;
  let hops = 0;
  let after = -1;
  let minPtr = pos; // pointers must go below this
  for (;;) {
    if (p >= end) return undefined;
    const l = buf[p]!;
    if ((l & 0xc0) === 0xc0) {
      if (p + 1 >= end) return undefined;
      const target = msg + (((l & 0x3f) << 8) | buf[p + 1]!);
      if (after < 0) after = p + 2;
      if (target >= minPtr || ++hops > MAX_POINTER_HOPS) return undefined;
      minPtr = target;
      p = target;
      continue;
    }
    if ((l & 0xc0) !== 0) return undefined; // 0x40 / 0x80 label types are obsolete/reserved
    wire += l + 1;
    if (wire > MAX_NAME_WIRE) return undefined;
    if (l === 0) break;
    if (p + 1 + l > end) return undefined;
    if (out.length > 0) out += '.';
    for (let i = p + 1; i <= p + l; i++) {
      const c = buf[i]!;
      if (c === 0x2e || c === 0x5c) out += '\\' + String.fromCharCode(c);
      else if (c <= 0x20 || c >= 0x7f) out += '\\' + String(c).padStart(3, '0');
      else out += String.fromCharCode(c);
    }
    p += 1 + l;
  }
  nameEnd = after >= 0 ? after : p + 1;
  return out === '' ? '.' : out;
};

/** Encodes a presentation-form name; returns the end offset, or -1 if invalid or out of room. */
const writeName = (name: string, out: Uint8Array, off: number, limit: number): number => {
  if (name === '.' || name === '') {
    if (off >= limit) return -1;
    out[off] = 0;
    return off + 1;
  }
  let p = off;
  let lenPos = p++;
  let labelLen = 0;
  const s = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  for (let i = 0; i <= s.length; i++) {
    if (i === s.length || s[i] === '.') {
      if (labelLen === 0 || labelLen > 63) return -1;
      out[lenPos] = labelLen;
      if (i === s.length) break;
      lenPos = p++;
      labelLen = 0;
      continue;
    }
    let c = s.charCodeAt(i);
    if (c === 0x5c) {
      const d = s.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(d)) {
        c = Number(d);
        if (c > 255) return -1;
        i += 3;
      } else if (i + 1 < s.length) {
        c = s.charCodeAt(++i);
      } else return -1;
    }
    if (c > 255) return -1;
    if (p >= limit) return -1;
    out[p++] = c;
    labelLen++;
  }
  if (p - off + 1 > MAX_NAME_WIRE || p >= limit) return -1;
  out[p++] = 0;
  return p;
};

/** Checks that a name can be encoded (labels 1-63 bytes, whole name <= 255 bytes). */
export const validateDnsName = (name: string): Result<string> => {
  const scratch = new Uint8Array(MAX_NAME_WIRE + 300);
  return writeName(name, scratch, 0, scratch.length) < 0
    ? err(`invalid DNS name ${JSON.stringify(name)}: each label must be 1-63 bytes and the whole name at most 255 bytes`)
    : ok(name);
};

// ---------------------------------------------------------------------------
// Parsing

const u16 = (b: Uint8Array, p: number): number => (b[p]! << 8) | b[p + 1]!;
const u32 = (b: Uint8Array, p: number): number => ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;

/** Parses a DNS message (query or response) in buf[off, end). Never throws; never reads outside the range. */
export const parseDnsMessage = (buf: Uint8Array, off = 0, end = buf.length): Result<DnsMessage> => {
  const e = Math.min(end, buf.length);
  if (off < 0 || off + DNS_HEADER_LEN > e) return err(`invalid DNS message: ${Math.max(0, e - off)} bytes is shorter than the 12-byte header`);
  const f1 = buf[off + 2]!;
  const f2 = buf[off + 3]!;
  const counts = [u16(buf, off + 4), u16(buf, off + 6), u16(buf, off + 8), u16(buf, off + 10)] as const;
  let p = off + DNS_HEADER_LEN;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const name = readName(buf, off, p, e);
    if (name === undefined) return err(`invalid DNS message: question ${i + 1} has a malformed name at byte ${p - off}`);
    p = nameEnd;
    if (p + 4 > e) return err(`invalid DNS message: question ${i + 1} is truncated`);
    questions.push({ name, type: u16(buf, p), class: u16(buf, p + 2) });
    p += 4;
  }
  const sections: DnsRecord[][] = [[], [], []];
  let edns: DnsEdns | undefined;
  for (let s = 0; s < 3; s++) {
    const section = sections[s]!;
    for (let i = 0; i < counts[s + 1]!; i++) {
      const name = readName(buf, off, p, e);
      if (name === undefined) return err(`invalid DNS message: record at byte ${p - off} has a malformed name`);
      p = nameEnd;
      if (p + 10 > e) return err(`invalid DNS message: record ${JSON.stringify(name)} is truncated`);
      const type = u16(buf, p);
      const cls = u16(buf, p + 2);
      const ttl = u32(buf, p + 4);
      const rdlen = u16(buf, p + 8);
      const rd = p + 10;
      if (rd + rdlen > e) return err(`invalid DNS message: record ${JSON.stringify(name)} data runs past the end`);
      p = rd + rdlen;
      if (type === DNS_TYPE.OPT) {
        if (s !== 2 || name !== '.') return err('invalid DNS message: OPT record outside the additional section or not at the root');
        if (edns === undefined) {
          edns = { udpSize: cls, extendedRcode: ttl >>> 24, version: (ttl >>> 16) & 255, dnssecOk: (ttl & 0x8000) !== 0 };
        }
        continue;
      }
      const rdata = buf.subarray(rd, rd + rdlen);
      if (type === DNS_TYPE.A && cls === DNS_CLASS_IN) {
        if (rdlen !== 4) return err(`invalid DNS message: A record ${JSON.stringify(name)} has ${rdlen} data bytes, expected 4`);
        section.push({ name, type, class: cls, ttl, rdata, address: ipv4(readIPv4(buf, rd)) });
      } else if (type === DNS_TYPE.AAAA && cls === DNS_CLASS_IN) {
        if (rdlen !== 16) return err(`invalid DNS message: AAAA record ${JSON.stringify(name)} has ${rdlen} data bytes, expected 16`);
        section.push({ name, type, class: cls, ttl, rdata, address: ipv6(ipv6FromBytes(buf, rd)) });
      } else if (type === DNS_TYPE.CNAME || type === DNS_TYPE.PTR || type === DNS_TYPE.NS) {
        const target = readName(buf, off, rd, rd + rdlen);
        if (target === undefined || nameEnd !== rd + rdlen) {
          return err(`invalid DNS message: record ${JSON.stringify(name)} has a malformed target name`);
        }
        section.push({ name, type, class: cls, ttl, rdata, target });
      } else {
        section.push({ name, type, class: cls, ttl, rdata });
      }
    }
  }
  const msg: DnsMessage = {
    id: u16(buf, off),
    qr: (f1 & 0x80) !== 0,
    opcode: (f1 >> 3) & 15,
    aa: (f1 & 0x04) !== 0,
    tc: (f1 & 0x02) !== 0,
    rd: (f1 & 0x01) !== 0,
    ra: (f2 & 0x80) !== 0,
    ad: (f2 & 0x20) !== 0,
    cd: (f2 & 0x10) !== 0,
    rcode: (f2 & 15) | ((edns?.extendedRcode ?? 0) << 4),
    questions,
    answers: sections[0]!,
    authorities: sections[1]!,
    additionals: sections[2]!,
  };
  return edns === undefined ? ok(msg) : ok({ ...msg, edns });
};

/**
 * What an embedded resolver should do with a parsed message: answer it, drop
 * it (it is a response, QR=1), or reply with an error RCODE (opcode other
 * than QUERY -> NOTIMP, not exactly one question -> FORMERR, EDNS version
 * other than 0 -> BADVERS, RFC 6891 §6.1.3).
 */
export type DnsQueryVerdict =
  | { readonly action: 'answer'; readonly question: DnsQuestion }
  | { readonly action: 'drop' }
  | { readonly action: 'reject'; readonly rcode: number };

export const classifyDnsQuery = (q: DnsMessage): DnsQueryVerdict => {
  if (q.qr) return { action: 'drop' };
  if (q.opcode !== DNS_OPCODE_QUERY) return { action: 'reject', rcode: DNS_RCODE.NOTIMP };
  if (q.edns !== undefined && q.edns.version !== 0) return { action: 'reject', rcode: DNS_RCODE.BADVERS };
  const question = q.questions[0];
  if (question === undefined || q.questions.length !== 1) return { action: 'reject', rcode: DNS_RCODE.FORMERR };
  return { action: 'answer', question };
};

// ---------------------------------------------------------------------------
// Building

export interface DnsAnswer {
  /** Owner name; defaults to the (first) question's name, written as a compression pointer. */
  readonly name?: string;
  readonly type: number;
  /** Seconds, 0 .. 2^31-1 (RFC 2181 §8). */
  readonly ttl: number;
  /** IP for A/AAAA, a name for CNAME/PTR/NS, raw RDATA otherwise. */
  readonly data: IP | string | Uint8Array;
}

export interface DnsResponseOptions {
  readonly rcode?: number;
  readonly answers?: readonly DnsAnswer[];
  readonly authorities?: readonly DnsAnswer[];
  /** AA flag; default true (the embedded resolver is authoritative for its names). */
  readonly authoritative?: boolean;
  /** RA flag; default true (the resolver forwards other names). */
  readonly recursionAvailable?: boolean;
  /**
   * Largest message to produce. Default: the query's EDNS UDP size (clamped to
   * 512-4096) or 512 without EDNS. Records that do not fit are left out and TC
   * is set (RFC 2181 §9). Pass 65535 for TCP.
   */
  readonly maxSize?: number;
  /** EDNS UDP size to advertise when the query had an OPT record. Default 1232. */
  readonly ednsUdpSize?: number;
}

const writeHeader = (
  out: Uint8Array, id: number, opcode: number, aa: boolean, tc: boolean, rd: boolean, ra: boolean, cd: boolean,
  rcode: number, qd: number, an: number, ns: number, ar: number,
): void => {
  out[0] = id >>> 8;
  out[1] = id;
  out[2] = 0x80 | ((opcode & 15) << 3) | (aa ? 4 : 0) | (tc ? 2 : 0) | (rd ? 1 : 0);
  out[3] = (ra ? 0x80 : 0) | (cd ? 0x10 : 0) | (rcode & 15);
  out[4] = qd >>> 8; out[5] = qd;
  out[6] = an >>> 8; out[7] = an;
  out[8] = ns >>> 8; out[9] = ns;
  out[10] = ar >>> 8; out[11] = ar;
};

const writeOpt = (out: Uint8Array, p: number, udpSize: number, extRcode: number, dnssecOk: boolean): number => {
  out[p] = 0; // root name
  out[p + 1] = 0; out[p + 2] = DNS_TYPE.OPT;
  out[p + 3] = udpSize >>> 8; out[p + 4] = udpSize;
  out[p + 5] = extRcode; out[p + 6] = 0; // version 0
  out[p + 7] = dnssecOk ? 0x80 : 0; out[p + 8] = 0;
  out[p + 9] = 0; out[p + 10] = 0; // no options
  return p + 11;
};
const OPT_LEN = 11;

/** Writes one record; returns the end offset or -1 (does not fit), -2 (invalid). */
const writeRecord = (out: Uint8Array, p: number, limit: number, a: DnsAnswer, qname: string | undefined): number => {
  if (!Number.isInteger(a.ttl) || a.ttl < 0 || a.ttl > 0x7fffffff) return -2;
  let q = p;
  if (a.name === undefined || (qname !== undefined && dnsNameEquals(a.name, qname))) {
    if (qname === undefined) return -2;
    if (q + 2 > limit) return -1;
    out[q++] = 0xc0; // pointer to the first question's name, always at offset 12
    out[q++] = DNS_HEADER_LEN;
  } else {
    q = writeName(a.name, out, q, limit);
    if (q < 0) return validateDnsName(a.name).ok ? -1 : -2;
  }
  if (q + 10 > limit) return -1;
  out[q] = a.type >>> 8; out[q + 1] = a.type;
  out[q + 2] = 0; out[q + 3] = DNS_CLASS_IN;
  out[q + 4] = a.ttl >>> 24; out[q + 5] = a.ttl >>> 16; out[q + 6] = a.ttl >>> 8; out[q + 7] = a.ttl;
  const rd = q + 10;
  let rdEnd: number;
  const d = a.data;
  if (typeof d === 'string') {
    rdEnd = writeName(d, out, rd, limit);
    if (rdEnd < 0) return validateDnsName(d).ok ? -1 : -2;
  } else if (d instanceof Uint8Array) {
    if (d.length > 0xffff) return -2;
    if (rd + d.length > limit) return -1;
    out.set(d, rd);
    rdEnd = rd + d.length;
  } else if (d.family === 4) {
    if (a.type !== DNS_TYPE.A) return -2;
    if (rd + 4 > limit) return -1;
    writeIPv4(out, rd, d.value);
    rdEnd = rd + 4;
  } else {
    if (a.type !== DNS_TYPE.AAAA) return -2;
    if (rd + 16 > limit) return -1;
    ipv6ToBytes(d.value, out, rd);
    rdEnd = rd + 16;
  }
  const rdlen = rdEnd - rd;
  out[q + 8] = rdlen >>> 8;
  out[q + 9] = rdlen;
  return rdEnd;
};

/**
 * Builds the response to `query`: copies id, opcode, RD, CD and the
 * questions (with the client's letter case); sets QR, AA, RA and RCODE; adds
 * answers; echoes a minimal OPT record (our UDP size, version 0, the DO bit)
 * if the query had one. An error RCODE with no answers gives NXDOMAIN /
 * SERVFAIL / REFUSED responses; NOERROR with no answers is the "name exists,
 * no record of this type" (NODATA) reply. Fails only on invalid answers
 * (bad name, TTL, or address family not matching the type).
 */
export const buildDnsResponse = (query: DnsMessage, options: DnsResponseOptions = {}): Result<Uint8Array> => {
  const rcode = options.rcode ?? DNS_RCODE.NOERROR;
  const edns = query.edns;
  const defaultMax = edns === undefined ? DNS_UDP_MIN : Math.min(4096, Math.max(DNS_UDP_MIN, edns.udpSize));
  const maxSize = Math.max(DNS_HEADER_LEN, Math.min(65535, options.maxSize ?? defaultMax));
  const out = new Uint8Array(maxSize);
  const limit = maxSize - (edns === undefined ? 0 : OPT_LEN);
  let p = DNS_HEADER_LEN;
  let qd = 0;
  let tc = false;
  for (const q of query.questions) {
    const e = writeName(q.name, out, p, limit);
    if (e < 0 || e + 4 > limit) {
      tc = true;
      break;
    }
    out[e] = q.type >>> 8; out[e + 1] = q.type;
    out[e + 2] = q.class >>> 8; out[e + 3] = q.class;
    p = e + 4;
    qd++;
  }
  const qname = qd > 0 ? query.questions[0]?.name : undefined;
  const counts = [0, 0];
  const lists = [options.answers ?? [], options.authorities ?? []] as const;
  for (let s = 0; s < 2 && !tc; s++) {
    for (const a of lists[s]!) {
      const e = writeRecord(out, p, limit, a, qname);
      if (e === -2) {
        return err(
          `cannot build DNS response: invalid type ${a.type} record for ${JSON.stringify(a.name ?? qname ?? '')}: ` +
            'expected a name of 1-63 byte labels, a TTL of 0-2147483647, and an IPv4 address for A or IPv6 for AAAA',
        );
      }
      if (e === -1) {
        tc = true;
        break;
      }
      p = e;
      counts[s]!++;
    }
  }
  if (edns !== undefined) p = writeOpt(out, p, options.ednsUdpSize ?? DNS_EDNS_UDP_SIZE, rcode >> 4, edns.dnssecOk);
  writeHeader(
    out, query.id, query.opcode, options.authoritative ?? true, tc, query.rd, options.recursionAvailable ?? true, query.cd,
    rcode, qd, counts[0]!, counts[1]!, edns === undefined ? 0 : 1,
  );
  return ok(out.slice(0, p));
};

/** Error reply (NXDOMAIN, SERVFAIL, REFUSED, NOTIMP, FORMERR, BADVERS...) with the question copied and no records. */
export const buildDnsError = (query: DnsMessage, rcode: number): Uint8Array => {
  const r = buildDnsResponse(query, { rcode, authoritative: rcode === DNS_RCODE.NXDOMAIN });
  // Cannot fail: no records are added and question names came from a parse.
  return r.ok ? r.value : new Uint8Array(0);
};

/**
 * FORMERR reply built from raw bytes that did not parse: header only, id and
 * opcode/RD copied. `undefined` if there are fewer than 12 bytes or QR is set
 * (never answer a response).
 */
export const buildDnsFormErr = (buf: Uint8Array, off = 0, end = buf.length): Uint8Array | undefined => {
  const e = Math.min(end, buf.length);
  if (off < 0 || off + DNS_HEADER_LEN > e || (buf[off + 2]! & 0x80) !== 0) return undefined;
  const out = new Uint8Array(DNS_HEADER_LEN);
  const f1 = buf[off + 2]!;
  writeHeader(out, u16(buf, off), (f1 >> 3) & 15, false, false, (f1 & 1) !== 0, true, false, DNS_RCODE.FORMERR, 0, 0, 0, 0);
  return out;
};

export interface DnsQueryOptions {
  readonly id: number;
  readonly name: string;
  readonly type: number;
  /** RD flag; default true. */
  readonly recursionDesired?: boolean;
  /** Add an OPT record advertising this UDP size. */
  readonly ednsUdpSize?: number;
}

/** Builds a standard query with one IN question (for forwarding and tests). */
export const buildDnsQuery = (o: DnsQueryOptions): Result<Uint8Array> => {
  const out = new Uint8Array(DNS_HEADER_LEN + MAX_NAME_WIRE + 4 + OPT_LEN);
  const e = writeName(o.name, out, DNS_HEADER_LEN, out.length);
  if (e < 0) return err(`invalid DNS name ${JSON.stringify(o.name)}: each label must be 1-63 bytes and the whole name at most 255 bytes`);
  out[e] = o.type >>> 8; out[e + 1] = o.type;
  out[e + 2] = 0; out[e + 3] = DNS_CLASS_IN;
  let p = e + 4;
  if (o.ednsUdpSize !== undefined) p = writeOpt(out, p, o.ednsUdpSize, 0, false);
  out[0] = o.id >>> 8;
  out[1] = o.id;
  out[2] = o.recursionDesired === false ? 0 : 1;
  out[5] = 1;
  out[11] = o.ednsUdpSize === undefined ? 0 : 1;
  return ok(out.slice(0, p));
};
