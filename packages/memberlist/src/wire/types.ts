/**
 * memberlist 0.2.2 message types (spec §3–§6): the type bytes, node states, size limits and
 * the decoded shapes of every UDP and TCP message. Codecs live beside it: `codec.ts` (one
 * message), `packet.ts` (UDP wrappers), `stream.ts` (TCP framing), `pushpull.ts` (state
 * exchange), `serf.ts` (the serf layer on top).
 */

export const MSG = {
  ping: 0,
  indirectPing: 1,
  ack: 2,
  suspect: 3,
  alive: 4,
  dead: 5,
  pushPull: 6,
  compound: 7,
  user: 8,
  compress: 9,
  encrypt: 10,
  nack: 11,
  hasCrc: 12,
  err: 13,
} as const;

export const NODE_STATE = { alive: 0, suspect: 1, dead: 2, left: 3 } as const;
export type NodeStateCode = 0 | 1 | 2 | 3;

/** Max stream message (spec §6: receivers refuse > 20 MiB). */
export const MAX_STREAM_SIZE = 20 * 1024 * 1024;

export interface Ping {
  readonly seqNo: number;
  readonly node: string;
  readonly sourceAddr?: Uint8Array;
  readonly sourcePort?: number;
  readonly sourceNode?: string;
}
export interface IndirectPing {
  readonly seqNo: number;
  readonly target: Uint8Array;
  readonly port: number;
  readonly node: string;
  readonly nack: boolean;
  readonly sourceAddr?: Uint8Array;
  readonly sourcePort?: number;
  readonly sourceNode?: string;
}
export interface Ack {
  readonly seqNo: number;
  readonly payload: Uint8Array;
}
export interface Nack {
  readonly seqNo: number;
}
export interface Suspect {
  readonly incarnation: number;
  readonly node: string;
  readonly from: string;
}
export type Dead = Suspect;
export interface Alive {
  readonly incarnation: number;
  readonly node: string;
  readonly addr: Uint8Array;
  readonly port: number;
  readonly meta: Uint8Array;
  readonly vsn: Uint8Array;
}
export interface PushNodeState {
  readonly name: string;
  readonly addr: Uint8Array;
  readonly port: number;
  readonly meta: Uint8Array;
  readonly incarnation: number;
  readonly state: NodeStateCode;
  readonly vsn: Uint8Array;
}
export interface PushPull {
  readonly join: boolean;
  readonly nodes: readonly PushNodeState[];
  readonly userState: Uint8Array;
}

export type Message =
  | { readonly kind: 'ping'; readonly msg: Ping }
  | { readonly kind: 'indirectPing'; readonly msg: IndirectPing }
  | { readonly kind: 'ack'; readonly msg: Ack }
  | { readonly kind: 'nack'; readonly msg: Nack }
  | { readonly kind: 'suspect'; readonly msg: Suspect }
  | { readonly kind: 'alive'; readonly msg: Alive }
  | { readonly kind: 'dead'; readonly msg: Dead }
  | { readonly kind: 'user'; readonly payload: Uint8Array }
  | { readonly kind: 'unknown'; readonly type: number };

export type StreamMessage =
  | { readonly kind: 'pushPull'; readonly msg: PushPull }
  | { readonly kind: 'ping'; readonly msg: Ping }
  | { readonly kind: 'ack'; readonly msg: Ack }
  | { readonly kind: 'user'; readonly payload: Uint8Array }
  | { readonly kind: 'err'; readonly error: string };
