/** Every harness, in the order `npm run fuzz` runs them. */
import type { Harness } from '../lib.ts';
import { netFrames, vxlan, dnsMessage } from './net.ts';
import { sodiumEnvelope } from './sodium.ts';
import { gossipPacket, gossipLzw, gossipStream, gossipMsgpack } from './gossip.ts';
import { dnsResolver } from './dns.ts';
import { controlFrames, controlHandshake, controlCodecs } from './control.ts';
import { pluginJson, pluginSocket, apiJson } from './json.ts';
import { tablesReceive } from './tables.ts';
import { gso } from './gso.ts';

export const HARNESSES: readonly Harness[] = [
  vxlan,
  gso,
  sodiumEnvelope,
  netFrames,
  gossipPacket,
  gossipLzw,
  gossipStream,
  gossipMsgpack,
  dnsMessage,
  dnsResolver,
  controlFrames,
  controlHandshake,
  controlCodecs,
  tablesReceive,
  pluginJson,
  pluginSocket,
  apiJson,
];
