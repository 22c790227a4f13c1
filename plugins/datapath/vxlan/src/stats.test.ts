/**
 * Root, in-process: `stats()` — what the debug view (`network peers`) and the metrics read. Two
 * hosts on an encrypted network with real pings: per-peer counters grow with the traffic, each
 * remote VTEP shows the epoch and age of the SA sealing toward it (and the epoch moves with a
 * rotation), envelopes that do not open are charged to their sender's VTEP, a static peer is
 * listed as static, and a network's sums never go back when a peer leaves.
 */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { isLeft } from 'fp-ts/lib/Either.js';
import { twoHosts, withLab } from '@weft/sys';
import { createKernel, formatError, initialRing, rotate, toKeyRing, type Cipher, type DataPathStats } from '@weft/kernel';
import { sodiumPlugin } from '@weft/sodium';
import { createVxlanDataPath, type VxlanDataPath } from './mod.ts';
import { pingOk, rootTest, sendRaw } from './testutil.ts';
import { connectPair } from '@weft/testing';

const net = { id: 'obs', vni: 4546, mtu: 1420, encrypted: true, internal: false, gateways: ['10.19.0.1/24'] };
const m1 = '02:42:0a:13:00:02';
const m2 = '02:42:0a:13:00:03';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function cipher(): Promise<Cipher> {
  const k = createKernel();
  const r = await k.load([{ plugin: sodiumPlugin, config: {} }]);
  if (isLeft(r)) throw new Error(r.left.map(formatError).join('; '));
  return k.service('cipher')!;
}

const peerOf = (s: DataPathStats, mac: string) => s.networks.find((n) => n.id === 'obs')?.peerList.find((p) => p.mac === mac);
const vtepOf = (s: DataPathStats, addr: string) => s.vteps.find((v) => v.vtep === addr);

rootTest('stats: per-peer counters grow with traffic, SA epoch and age per VTEP move with rotations, bad envelopes charged to their sender, static peers flagged', () =>
  withLab('obs', async (lab) => {
    let dp1: VxlanDataPath | undefined;
    let dp2: VxlanDataPath | undefined;
    try {
      const { h1, h2, a1, a2 } = twoHosts(lab);
      const s1 = lab.netns('s1');
      const s2 = lab.netns('s2');
      const c1 = await cipher();
      const c2 = await cipher();
      let ring = initialRing(7);
      c1.setKeyRing(toKeyRing(ring));
      c2.setKeyRing(toKeyRing(ring));
      dp1 = await createVxlanDataPath({ dataPathAddr: a1, netns: h1, cipher: c1 });
      dp2 = await createVxlanDataPath({ dataPathAddr: a2, netns: h2, cipher: c2 });
      await connectPair(
        net,
        { dataPath: dp1, vtep: a1, port: { endpointId: 'e1', mac: m1, ipv4: '10.19.0.2/24', ifname: 'wfto1', dstName: 'eth0', netns: s1 }, peer: { node: 'h1', name: 'one' } },
        { dataPath: dp2, vtep: a2, port: { endpointId: 'e2', mac: m2, ipv4: '10.19.0.3/24', ifname: 'wfto2', dstName: 'eth0', netns: s2 }, peer: { node: 'h2', name: 'two' } },
      );
      // A static peer nobody answers for (a VTEP outside Weft).
      dp1.addPeer({ network: 'obs', mac: '02:42:0a:13:00:63', ipv4: '10.19.0.99', vtep: '198.18.250.99', external: true });

      pingOk(lab, s1, '10.19.0.3', 3);
      const before = dp1.stats!();
      const p0 = peerOf(before, m2)!;
      assert.ok(p0 !== undefined, 'the learned peer is listed');
      assert.is(p0.external, false);
      assert.is(p0.node, 'h2');
      const v0 = vtepOf(before, a2)!;
      assert.is(v0.txEpoch, 8, `the SA toward ${a2} seals with the primary epoch (middle of 7, 8, 9): ${JSON.stringify(v0)}`);
      assert.ok(v0.saAgeMs >= 0 && v0.saAgeMs < 60_000, `SA age ${v0.saAgeMs}`);
      const stat = before.networks.find((n) => n.id === 'obs')!.peerList.find((p) => p.external);
      assert.is(stat?.vtep, '198.18.250.99', 'the static peer is listed');
      assert.is(stat?.external, true, 'and flagged static');
      assert.is(vtepOf(before, '198.18.250.99')?.txEpoch, 8, 'a static peer on an encrypted network has a session too');

      lab.exec(s1, 'ping', ['-c', '20', '-i', '0.05', '-W', '2', '10.19.0.3']);
      const after = dp1.stats!();
      const p1 = peerOf(after, m2)!;
      const d = (k: string) => (p1.counters[k] ?? 0) - (p0.counters[k] ?? 0);
      assert.ok(d('tx_packets') >= 20, `tx toward the peer grew with 20 echo requests: ${d('tx_packets')}`);
      assert.ok(d('rx_packets') >= 20, `rx from the peer grew with 20 replies: ${d('rx_packets')}`);
      assert.ok(d('tx_bytes') >= 20 * 98, `tx bytes: ${d('tx_bytes')}`);
      const net0 = before.networks.find((n) => n.id === 'obs')!;
      const net1 = after.networks.find((n) => n.id === 'obs')!;
      assert.ok((net1.ports['rx_packets'] ?? 0) - (net0.ports['rx_packets'] ?? 0) >= 20, 'the network sums count the sandbox side too');

      // A datagram from host 2's address that is no envelope of any key: charged to host 2's VTEP.
      const v1 = vtepOf(after, a2)!;
      sendRaw(lab, h2, a2, a1, Buffer.from('7777777700000000000000010102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex'));
      await sleep(300);
      const v2 = vtepOf(dp1.stats!(), a2)!;
      assert.is((v2.counters['drop_unknown_spi'] ?? 0) - (v1.counters['drop_unknown_spi'] ?? 0), 1, `one unknown-SPI drop charged to ${a2}: ${JSON.stringify(v2.counters)}`);

      // Two rotations: the primary moves 8 → 9 → 10, and the SA is new.
      for (let i = 0; i < 2; i++) {
        ring = rotate(ring);
        c1.setKeyRing(toKeyRing(ring));
        c2.setKeyRing(toKeyRing(ring));
      }
      let v3 = vtepOf(dp1.stats!(), a2)!;
      for (let i = 0; i < 50 && v3.txEpoch !== 10; i++) {
        await sleep(50);
        v3 = vtepOf(dp1.stats!(), a2)!;
      }
      assert.is(v3.txEpoch, 10, 'the epoch moved with the rotations');
      pingOk(lab, s1, '10.19.0.3', 2);

      // A peer leaves: the network's sums keep what it carried.
      const kept = dp1.stats!().networks.find((n) => n.id === 'obs')!.peers['tx_packets'] ?? 0;
      dp1.removePeer('obs', m2);
      const gone = dp1.stats!();
      assert.is(peerOf(gone, m2), undefined, 'the removed peer is no longer listed');
      assert.ok((gone.networks.find((n) => n.id === 'obs')!.peers['tx_packets'] ?? 0) >= kept, 'the network total did not go back');
      assert.ok(vtepOf(gone, a2) === undefined, 'its VTEP, with no peer behind it, is gone');
    } finally {
      await dp1?.close();
      await dp2?.close();
    }
  }));

test.run();
