/**
 * Root, in-process: real TCP over IPv6 through two userspace switches (a dual-stack network),
 * plaintext, encrypted with whole-super-frame sealing, and encrypted per datagram. 24 MiB of
 * seeded pseudo-random bytes each way over IPv6 (and once over IPv4 on the same network) must
 * arrive intact (length and SHA-256). The receiving port's `rx_coalesced` must move during the
 * IPv6 transfers: IPv6 GRO trains (or sealed super-frames) reach the TAP as super-frames. Figures
 * (coalesced writes per received packet) are printed, not asserted.
 */
import * as assert from 'uvu/assert';
import { test } from 'uvu';
import { isLeft } from 'fp-ts/lib/Either.js';
import { twoHosts, withLab, type Lab } from '@weft/sys';
import { createKernel, formatError, initialRing, toKeyRing, type Cipher, type Kernel } from '@weft/kernel';
import { sodiumPlugin } from '@weft/sodium';
import { createVxlanDataPath, type VxlanDataPath } from './mod.ts';
import { pingOk, rootTest } from './testutil.ts';
import { connectPair } from '@weft/testing';

const m1 = '02:42:0a:16:00:02';
const m2 = '02:42:0a:16:00:03';
const BYTES = 24 * 1024 * 1024;

/** Receives one connection on [addr]:port, prints "<length> <sha256>" when the peer closes. */
const SERVER = `import socket,hashlib,sys
fam=socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s=socket.socket(fam,socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind((sys.argv[1],int(sys.argv[2])))
s.listen(1)
print('listening',flush=True)
c,_=s.accept()
h=hashlib.sha256()
n=0
while True:
    d=c.recv(1<<20)
    if not d: break
    h.update(d)
    n+=len(d)
print(n,h.hexdigest(),flush=True)
`;
/** Connects (retrying while the server starts) and sends argv[3] seeded random bytes; prints "<length> <sha256>". */
const CLIENT = `import socket,hashlib,sys,random,time
fam=socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
n=int(sys.argv[3])
data=random.Random(int(sys.argv[4])).randbytes(n)
for i in range(100):
    try:
        s=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=30)
        break
    except OSError:
        time.sleep(0.1)
else:
    raise SystemExit('could not connect')
s.sendall(data)
s.shutdown(socket.SHUT_WR)
s.recv(1)
s.close()
print(n,hashlib.sha256(data).hexdigest(),flush=True)
`;

/** Sends BYTES from `from` to [dst]:port in `to`; both sides' "<length> <sha256>" lines. */
async function transfer(lab: Lab, from: string, to: string, dst: string, port: number, seed: number): Promise<{ sent: string; got: string }> {
  const srv = lab.spawn(to, '/usr/bin/python3', ['-c', SERVER, dst, String(port)]);
  let out = '';
  let err = '';
  srv.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  srv.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  try {
    for (let i = 0; i < 200 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(out.includes('listening'), `the server in ${to} did not listen on [${dst}]:${port}: ${err}`);
    const sent = lab.exec(from, '/usr/bin/python3', ['-c', CLIENT, dst, String(port), String(BYTES), String(seed)], { timeoutMs: 120_000 }).trim();
    for (let i = 0; i < 600 && srv.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
    const got = out.split('\n').map((l) => l.trim()).filter((l) => /^\d+ [0-9a-f]{64}$/.test(l))[0] ?? `(no result; stderr: ${err})`;
    return { sent, got };
  } finally {
    await lab.kill(srv);
  }
}

async function cipher(kernels: Kernel[]): Promise<Cipher> {
  const k = createKernel();
  const r = await k.load([{ plugin: sodiumPlugin, config: {} }]);
  if (isLeft(r)) throw new Error(r.left.map(formatError).join('; '));
  kernels.push(k);
  return k.service('cipher')!;
}

/** A counter summed over the network's local ports (their `tx_*` is what the switch wrote to the TAP). */
const portSum = (dp: VxlanDataPath, net: string, name: string): number =>
  Object.entries(dp.counters(net)).filter(([k]) => k.startsWith('port/')).reduce((n, [, c]) => n + (c[name] ?? 0), 0);
const coalesced = (dp: VxlanDataPath, net: string): number => portSum(dp, net, 'rx_coalesced');
const received = (dp: VxlanDataPath, net: string): number => portSum(dp, net, 'tx_packets');

for (const mode of ['plaintext', 'encrypted, whole super-frames sealed', 'encrypted, sealed per datagram'] as const) {
  rootTest(`TCP over IPv6 through two switches (${mode}): 24 MiB each way intact, IPv6 trains coalesced; IPv4 intact on the same network`, () =>
    withLab('tcp6', async (lab) => {
      const dps: VxlanDataPath[] = [];
      const kernels: Kernel[] = [];
      try {
        const { h1, h2, a1, a2 } = twoHosts(lab);
        const s1 = lab.netns('s1');
        const s2 = lab.netns('s2');
        const enc = mode !== 'plaintext';
        const ciphers: Cipher[] = [];
        if (enc) {
          const ring = toKeyRing(initialRing(1));
          for (let i = 0; i < 2; i++) {
            const c = await cipher(kernels);
            c.setKeyRing(ring);
            ciphers.push(c);
          }
        }
        const superSeal = mode !== 'encrypted, sealed per datagram';
        for (const [i, [h, a]] of ([[h1, a1], [h2, a2]] as const).entries()) {
          dps.push(await createVxlanDataPath({ dataPathAddr: a, netns: h, superSeal, ...(enc ? { cipher: ciphers[i]! } : {}) }));
        }
        const [dp1, dp2] = dps as [VxlanDataPath, VxlanDataPath];
        const net = { id: 'v6', vni: 4622, mtu: enc ? 1450 - ciphers[0]!.overhead : 1450, encrypted: enc, internal: false, gateways: ['10.22.0.1/24', 'fd00:22::1/64'] };
        await connectPair(
          net,
          { dataPath: dp1, vtep: a1, port: { endpointId: 'e1', mac: m1, ipv4: '10.22.0.2/24', ipv6: 'fd00:22::2/64', ifname: 'wft6a', dstName: 'eth0', netns: s1 } },
          { dataPath: dp2, vtep: a2, port: { endpointId: 'e2', mac: m2, ipv4: '10.22.0.3/24', ipv6: 'fd00:22::3/64', ifname: 'wft6b', dstName: 'eth0', netns: s2 } },
        );
        pingOk(lab, s1, 'fd00:22::3');

        const runs = [
          { from: s1, to: s2, dst: 'fd00:22::3', rx: dp2, what: 'IPv6 s1 → s2' },
          { from: s2, to: s1, dst: 'fd00:22::2', rx: dp1, what: 'IPv6 s2 → s1' },
          { from: s1, to: s2, dst: '10.22.0.3', rx: dp2, what: 'IPv4 s1 → s2' },
        ];
        for (const [k, r] of runs.entries()) {
          const c0 = coalesced(r.rx, 'v6');
          const p0 = received(r.rx, 'v6');
          const { sent, got } = await transfer(lab, r.from, r.to, r.dst, 5300 + k, 22 + k);
          assert.is(sent, `${BYTES} ${sent.split(' ')[1]}`, `${r.what}: the client's line`);
          assert.is(got, sent, `${r.what}: bytes arrived intact (length and SHA-256)`);
          const dc = coalesced(r.rx, 'v6') - c0;
          const dpk = received(r.rx, 'v6') - p0;
          console.log(`  ${mode}, ${r.what}: ${BYTES} bytes intact; ${dc} super-frame writes of ${dpk} TAP writes on the receiver`);
          if (r.dst.includes(':')) assert.ok(dc > 0, `${r.what}: no IPv6 train reached the TAP as one super-frame (rx_coalesced did not move; ${dpk} writes)`);
        }
      } finally {
        for (const dp of dps) await dp.close();
        for (const k of kernels) await k.stop();
      }
    }));
}

test.run();
