/**
 * A member's record in the local node table (memberlist's nodeState) and the caches that
 * let records share their immutable parts (address text, `addr:port` keys, decoded tags).
 */
import type { Alive, NodeStateCode } from '../wire/types.ts';
import { decodeTags } from '../wire/serf.ts';
import { bytesToIp } from './addr.ts';
import type { Member, MemberState } from './types.ts';

const STATE_NAMES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

export interface NodeRec {
  name: string;
  addr: string;
  addrBytes: Uint8Array;
  port: number;
  meta: Uint8Array;
  tags: Record<string, string>;
  weft: boolean;
  vsn: Uint8Array;
  incarnation: number;
  state: NodeStateCode;
  stateChange: number;
  /** `addr:port`, interned per address buffer (the key of addrIndex). */
  addrKey: string;
  /**
   * Cached msgpack pushNodeState. Valid while incarnation and state are unchanged; the
   * other encoded fields (addr, port, meta, vsn) only change together with one of those,
   * and aliveNode clears it whenever it rewrites them.
   */
  ppBytes: Uint8Array | undefined;
  ppInc: number;
  ppState: number;
}

export function toMember(n: NodeRec): Member {
  return {
    name: n.name,
    addr: n.addr,
    port: n.port,
    state: STATE_NAMES[n.state] as MemberState,
    meta: n.tags,
    incarnation: n.incarnation,
    weft: n.weft,
    vsn: Array.from(n.vsn),
  };
}

export function aliveMsg(n: NodeRec): Alive {
  return { incarnation: n.incarnation, node: n.name, addr: n.addrBytes, port: n.port, meta: n.meta, vsn: n.vsn };
}

// Address text and `addr:port` keys per address buffer: records learned from the same
// decoded message or seeded from the same Alive share one string (large simulations keep
// N² records, so per-record strings would dominate memory).
const ipCache = new WeakMap<Uint8Array, string>();
export function ipOf(b: Uint8Array): string {
  let s = ipCache.get(b);
  if (s === undefined) {
    s = bytesToIp(b);
    ipCache.set(b, s);
  }
  return s;
}
const addrKeyCache = new WeakMap<Uint8Array, { port: number; key: string }>();
export function addrKeyOf(b: Uint8Array, ip: string, port: number): string {
  const c = addrKeyCache.get(b);
  if (c !== undefined && c.port === port) return c.key;
  const key = ip + ':' + port;
  addrKeyCache.set(b, { port, key });
  return key;
}

// Decoded tags per meta buffer (the simulator and seeding share buffers between nodes).
const tagCache = new WeakMap<Uint8Array, Record<string, string>>();
export function tagsOf(meta: Uint8Array): Record<string, string> {
  let t = tagCache.get(meta);
  if (t === undefined) {
    t = decodeTags(meta);
    tagCache.set(meta, t);
  }
  return t;
}

export function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
