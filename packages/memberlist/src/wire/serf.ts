/** serf-layer helpers (spec §10): tags, the leave intent, Lamport times. */
import { decodeMap, getUint, Writer, writeValue } from './msgpack.ts';
import { MSG } from './types.ts';

/** serf tags: `0xFF ‖ msgpack map[string]string`. */
export function encodeTags(tags: Readonly<Record<string, string>>): Uint8Array {
  const w = new Writer(128);
  w.u8(0xff);
  writeValue(w, tags);
  return w.result();
}

export function decodeTags(meta: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  if (meta.length === 0 || meta[0] !== 0xff) {
    out['role'] = new TextDecoder().decode(meta);
    return out;
  }
  const r = decodeMap(meta, 1);
  if (!r.ok) return out;
  for (const [k, v] of r.value.value) if (v instanceof Uint8Array) out[k] = new TextDecoder().decode(v);
  return out;
}

export const SERF_MSG = { leave: 0, join: 1, pushPull: 2 } as const;

/** serf leave intent as a memberlist user message: `08 00 {LTime, Node, Prune}`. */
export function encodeSerfLeaveIntent(ltime: number, node: string): Uint8Array {
  const w = new Writer(64);
  w.u8(MSG.user);
  w.u8(SERF_MSG.leave);
  writeValue(w, { LTime: ltime, Node: node, Prune: false });
  return w.result();
}

/** Extract a Lamport time from a serf message (user payload or push/pull user state). */
export function serfLTime(payload: Uint8Array): number | undefined {
  if (payload.length < 2) return undefined;
  const t = payload[0] as number;
  if (t > 9) return undefined;
  const r = decodeMap(payload, 1);
  if (!r.ok) return undefined;
  const lt = getUint(r.value.value, 'LTime');
  return lt === undefined || lt === 0 ? undefined : lt;
}
