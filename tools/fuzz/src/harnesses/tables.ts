/** Network tables (plugins/cluster/gossip): gossip user messages carrying msgpack table events. */
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { NetworkTables, type TablesHost } from '@weft/gossip';
import { bytesMix, must, type Harness } from '../lib.ts';

function host(): { h: TablesHost; deliver: (from: string, p: Uint8Array) => void; sent: () => number } {
  let on: (from: string, p: Uint8Array) => void = () => {};
  let sent = 0;
  return {
    h: {
      self: 'me',
      members: () => [{ name: 'me', state: 'alive', weft: true }, { name: 'peer', state: 'alive', weft: true }],
      send: () => void sent++,
      broadcast: () => void sent++,
      onMessage: (fn) => void (on = fn),
      onMember: () => {},
    },
    deliver: (from, p) => on(from, p),
    sent: () => sent,
  };
}
const clock = { now: () => 0, setTimeout: () => 0, clearTimeout: () => {} };

export const tablesReceive: Harness = {
  name: 'tables-receive',
  what: 'NetworkTables.receive (table events gossiped between nodes) on random bytes and mutated msgpack events/attachments/bulk messages incl. array32/map32/bin32/str32 headers claiming 4 GiB; no throw, malformed counted, state bounded',
  async make() {
    const seeds = [
      pack([1, 'net1', [['endpoints', 'k1', new Uint8Array([1, 2, 3]), 'peer', 5, false]]]),
      pack([2, [['peer', 'net1', 3, true]]]),
      pack([3, 'net1']),
      pack([4, 'net1', [['endpoints', 'k2', new Uint8Array(4), 'peer', 7, true]], [['peer', 'net1', 1, true]]]),
      Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]),
      Uint8Array.from([0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 0x61]),
      Uint8Array.from([0x93, 0x01, 0xa4, 0x6e, 0x65, 0x74, 0x31, 0xdd, 0x10, 0x00, 0x00, 0x00]),
      Uint8Array.from([0x92, 0x01, 0xc6, 0x7f, 0xff, 0xff, 0xff]),
    ];
    let t: NetworkTables;
    let deliver: (from: string, p: Uint8Array) => void;
    const fresh = () => {
      const h = host();
      t = new NetworkTables({ host: h.h, clock, random: () => 0.5 });
      void t.joinNetwork('net1');
      deliver = h.deliver;
    };
    fresh();
    let malformed = 0;
    let received = 0;
    let n = 0;
    return {
      arb: bytesMix(seeds, 128),
      check(p: Uint8Array) {
        // Valid mutated events add entries; a fresh table now and then keeps the state bounded.
        if (++n % 50_000 === 0) {
          malformed += t.counters.malformed;
          received += t.counters.eventsReceived;
          fresh();
        }
        deliver('peer', p);
      },
      counts: () => ({ malformed: malformed + t.counters.malformed, eventsReceived: received + t.counters.eventsReceived }),
      after: (c) => must((c.malformed ?? 0) > 0 && (c.eventsReceived ?? 0) > 0, 'counters did not move'),
    };
  },
};
