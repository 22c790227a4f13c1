/**
 * Interop against real serf 0.9.4 agents on loopback (127.77.R.x / 127.78.R.x, R random per run).
 * Every agent runs with -log-level=debug; its log is scanned for panics and for
 * errors/warnings about protocol problems. Every process is killed by PID.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createMembership, createNodeTransport, type Membership, type MembershipOptions } from './mod.ts';

// A random /24 per run inside 127.77.0.0/16 and 127.78.0.0/16, so concurrent runs
// (e.g. a CI clone) do not collide on 7946.
const octet = 1 + Math.floor(Math.random() * 250);
const A = `127.77.${octet}`;
const E = `127.78.${octet}`;

const hasSerf = (() => {
  const r = spawnSync('serf', ['version'], { encoding: 'utf8' });
  return r.error === undefined && r.status === 0;
})();

const dir = mkdtempSync(join(tmpdir(), 'weft-serf-'));
const procs = new Map<string, { p: ChildProcess; log: string; fd: number }>();
const weft: Membership[] = [];
const t0 = Date.now();
const el = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

function killAll(): void {
  for (const { p } of procs.values()) if (p.pid !== undefined && p.exitCode === null) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.on('exit', killAll);

function agent(name: string, ip: string, extra: string[] = []): void {
  const log = join(dir, `${name}.log`);
  const fd = openSync(log, 'w');
  const p = spawn('serf', ['agent', `-node=${name}`, `-bind=${ip}:7946`, `-rpc-addr=${ip}:7373`, '-log-level=debug', ...extra], {
    stdio: ['ignore', fd, fd],
  });
  procs.set(name, { p, log, fd });
}

function kill9(name: string): void {
  const a = procs.get(name);
  if (a?.p.pid !== undefined) process.kill(a.p.pid, 'SIGKILL');
}

interface SerfMember {
  name: string;
  addr: string;
  status: string;
  tags: Record<string, string>;
}

function serfMembers(ip: string): Promise<SerfMember[]> {
  return new Promise((resolve) => {
    execFile('serf', ['members', `-rpc-addr=${ip}:7373`, '-format=json'], { timeout: 3000 }, (e, out) => {
      if (e) return resolve([]);
      try {
        resolve((JSON.parse(out) as { members: SerfMember[] }).members);
      } catch {
        resolve([]);
      }
    });
  });
}

function serf(args: string[]): Promise<string> {
  return new Promise((resolve) => execFile('serf', args, { timeout: 5000 }, (_e, out, errOut) => resolve(`${out}${errOut}`)));
}

/**
 * `serf keys -OP=KEY` through e1, repeated (serf's key operations are idempotent) until both serf
 * agents reported success. Our node never answers serf's key queries, so "2/3 nodes reported
 * success" is the full answer; "1/3" means e2 had not answered within serf's query timeout (a
 * loaded machine), and the next step (use, remove) would then race it and show up as decrypt
 * failures in the serf logs.
 */
async function serfKeys(op: 'install' | 'use' | 'remove', key: string): Promise<void> {
  let out = '';
  for (let i = 0; i < 5; i++) {
    out = await serf(['keys', `-rpc-addr=${E}.1:7373`, `-${op}=${key}`]);
    const m = /(\d+)\/\d+ nodes reported success/.exec(out);
    if (/Successfully/.test(out) || (m !== null && Number(m[1]) >= 2)) return;
  }
  assert.unreachable(`serf keys -${op} did not reach both serf agents: ${out.trim()}`);
}

async function waitFor(pred: () => boolean | Promise<boolean>, ms: number, step = 200): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await pred()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, step));
  }
  return (await pred()) ? Date.now() - start : -1;
}

const statusIn = async (ip: string, name: string) => (await serfMembers(ip)).find((m) => m.name === name)?.status;
const ourState = (m: Membership, name: string) => m.members().find((x) => x.name === name)?.state;

let failed = false;
const mergedStates = new Map<string, string[]>();

async function weftNode(name: string, ip: string, extra: Partial<MembershipOptions> = {}): Promise<Membership> {
  const m = createMembership({
    localState: (join) => new TextEncoder().encode(`state-of-${name}${join ? '-join' : ''}`),
    mergeRemoteState: (s) => mergedStates.set(name, [...(mergedStates.get(name) ?? []), new TextDecoder().decode(s)]),
    name,
    bindAddr: ip,
    bindPort: 7946,
    meta: { role: 'overlay', os: 'linux', dataAddr: ip, dataPort: '4789' },
    transport: createNodeTransport({ bindAddr: ip, bindPort: 7946 }),
    // shorter suspicion on OUR side only
    config: { suspicionMaxTimeoutMult: 2 },
    ...extra,
  });
  weft.push(m);
  await m.start();
  return m;
}

function scanLogs(): { bad: string[]; all: string[] } {
  const all: string[] = [];
  const bad: string[] = [];
  for (const [name, { log }] of procs) {
    // The deliberate outsiders (no key, wrong key) log their own refusals.
    if (name.startsWith('bad-')) continue;
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      if (/panic|\[ERR\]|\[WARN\]/.test(line)) {
        all.push(`${name}: ${line.trim()}`);
        if (/is not encrypted/.test(line)) continue; // from the deliberate no-key join attempt
        if (
          /panic|decode|Unrecognized|unknown message|Remote state is not|Conflicting|incompatible|checksum|No installed keys|Failed to merge|not push\/pull/i.test(line) ||
          ((/weft-a/.test(line) || line.includes(`${A}.10`)) && !/weft-a[^ ]* has left|Refuting/.test(line))
        )
          bad.push(`${name}: ${line.trim()}`);
      }
    }
  }
  return { bad, all };
}

if (!hasSerf) {
  test('serf interop (SKIPPED: `serf` not found on PATH)', () => {
    console.log('  serf is not installed; skipping interop tests (apt-get install serf)');
  });
} else {
  let wa: Membership;
  let wb: Membership;

  test.before(async () => {
    agent('s1', `${A}.1`, ['-tag', 'role=web']);
    agent('s2', `${A}.2`);
    assert.ok((await waitFor(async () => (await serfMembers(`${A}.1`)).length > 0 && (await serfMembers(`${A}.2`)).length > 0, 10_000)) >= 0);
    await serf(['join', `-rpc-addr=${A}.2:7373`, `${A}.1:7946`]);
    assert.ok((await waitFor(async () => (await serfMembers(`${A}.1`)).length === 2, 5000)) >= 0, 'serf pair did not form');
  });

  test.after(async () => {
    for (const m of weft) await m.shutdown().catch(() => {});
    killAll();
    for (const { fd } of procs.values()) closeSync(fd);
    const { bad, all } = scanLogs();
    console.log(`\n  serf logs: ${all.length} ERR/WARN lines (expected ones come from kill -9 / crash tests)`);
    for (const l of all.slice(0, 30)) console.log(`    ${l}`);
    if (process.env['KEEP_SERF_LOGS'] === undefined && !failed && bad.length === 0) rmSync(dir, { recursive: true, force: true });
    else console.log(`  logs kept in ${dir}`);
    console.log(`  total serf interop wall time ${el()}`);
    assert.equal(bad, [], 'serf logged problems caused by the Weft nodes');
  });

  test('Weft node joins a serf cluster: alive with tags in serf, serf agents alive for us', async () => {
    wa = await weftNode('weft-a', `${A}.10`);
    const n = await wa.join([`${A}.1:7946`]);
    assert.is(n, 1);
    const t = await waitFor(async () => {
      const [a, b] = await Promise.all([serfMembers(`${A}.1`), serfMembers(`${A}.2`)]);
      return [a, b].every((ms) => ms.find((m) => m.name === 'weft-a')?.status === 'alive');
    }, 10_000);
    assert.ok(t >= 0, 'weft-a not alive in serf members');
    const me = (await serfMembers(`${A}.2`)).find((m) => m.name === 'weft-a');
    assert.equal(me?.tags, { role: 'overlay', os: 'linux', dataAddr: `${A}.10`, dataPort: '4789', weft: '1' });
    assert.is(me?.addr, `${A}.10:7946`);
    assert.ok((await waitFor(() => ourState(wa, 's1') === 'alive' && ourState(wa, 's2') === 'alive', 5000)) >= 0);
    assert.is(wa.members().find((m) => m.name === 's1')?.meta['role'], 'web');
    // serf user events reach us as memberlist user messages (08 03 …): ignored, not delivered
    let delivered = 0;
    const off = wa.onUser(() => delivered++);
    const before = wa.counters.received['user'] ?? 0;
    await serf(['event', `-rpc-addr=${A}.1:7373`, 'hello', 'payload']);
    const gotEvent = await waitFor(() => (wa.counters.received['user'] ?? 0) > before, 5000, 100);
    off();
    assert.ok(gotEvent >= 0, 'serf user event never arrived');
    assert.is(delivered, 0);
    console.log(`  [${el()}] weft-a alive in both serf agents after ${t} ms; serf user event received and ignored`);
  });

  test('a serf agent joins through our node as seed; second Weft node exchanges user data', async () => {
    agent('s3', `${A}.3`, [`-join=${A}.10:7946`]);
    const t = await waitFor(async () => {
      const ms = await serfMembers(`${A}.3`);
      return ['s1', 's2', 's3', 'weft-a'].every((n) => ms.find((m) => m.name === n)?.status === 'alive');
    }, 10_000);
    assert.ok(t >= 0, 's3 did not see the full cluster after joining through weft-a');
    assert.ok((await waitFor(() => ourState(wa, 's3') === 'alive', 5000)) >= 0);

    wb = await weftNode('weft-b', `${A}.11`);
    assert.ok((await wb.join([`${A}.10:7946`])) === 1);
    const got: string[] = [];
    wa.onUser((u) => got.push(`${u.from}:${new TextDecoder().decode(u.payload)}:${u.broadcast}`));
    await waitFor(() => ourState(wb, 'weft-a') === 'alive', 3000);
    await wb.sendUser('weft-a', new TextEncoder().encode('direct'));
    await wb.sendUser('weft-a', new Uint8Array(5000)); // too big for UDP → TCP
    wb.broadcastUser(new TextEncoder().encode('bcast'));
    assert.ok((await waitFor(() => got.length >= 3, 5000)) >= 0, `user messages: ${JSON.stringify(got)}`);
    assert.ok(got.includes('weft-b:direct:false') && got.includes('weft-b:bcast:true'));
    const refused = await wb.sendUser('s1', new Uint8Array(1)).then(
      () => '',
      (e: unknown) => String(e),
    );
    assert.match(refused, /not a Weft node/);
    assert.ok((await waitFor(async () => (await statusIn(`${A}.1`, 'weft-b')) === 'alive', 10_000)) >= 0);
    // push/pull user state was exchanged between the two Weft nodes only
    assert.equal(mergedStates.get('weft-b'), ['state-of-weft-a-join']);
    assert.equal(mergedStates.get('weft-a'), ['state-of-weft-b-join']);
    console.log(`  [${el()}] s3 joined via weft-a in ${t} ms; Weft user messages delivered (${got.length}); user state swapped at join`);
  });

  test('kill -9 of a serf agent is marked dead by us; our crash is marked failed by serf', async () => {
    kill9('s3');
    const crashAt = Date.now();
    // abrupt: close sockets, no leave message
    await wb.shutdown();
    const [tDead, tFailed] = await Promise.all([
      waitFor(() => ourState(wa, 's3') === 'dead', 40_000),
      waitFor(async () => (await statusIn(`${A}.1`, 'weft-b')) === 'failed' && (await statusIn(`${A}.2`, 'weft-b')) === 'failed', 40_000),
    ]);
    assert.ok(tDead >= 0, `s3 not marked dead by weft-a (state ${String(ourState(wa, 's3'))})`);
    assert.ok(tFailed >= 0, 'weft-b not marked failed by serf');
    console.log(`  [${el()}] s3 (kill -9) dead at weft-a after ${tDead} ms; weft-b (crash) failed in serf after ${tFailed} ms (${Date.now() - crashAt} ms total)`);
    assert.is(ourState(wa, 's1'), 'alive');
    // serf used weft-a as an indirect-probe relay for s3 (nack requested, since we advertise PMax 5)
    console.log(`  weft-a relayed ${wa.counters.relays} indirect probes for serf, sent ${wa.counters.nacksSent} nacks; received ${JSON.stringify(wa.counters.received)}`);
    assert.ok(wa.counters.relays > 0 && wa.counters.nacksSent > 0, 'serf never used us as an indirect-probe relay');
  });

  test('graceful leave of our node shows `left` in serf', async () => {
    const start = Date.now();
    await wa.leave(5000);
    const t = await waitFor(async () => (await statusIn(`${A}.1`, 'weft-a')) === 'left' && (await statusIn(`${A}.2`, 'weft-a')) === 'left', 10_000, 100);
    await wa.shutdown();
    if (t < 0) failed = true;
    assert.ok(t >= 0, `weft-a status after leave: s1=${String(await statusIn(`${A}.1`, 'weft-a'))} s2=${String(await statusIn(`${A}.2`, 'weft-a'))} queued=${wa.queuedBroadcasts()}`);
    console.log(`  [${el()}] leave() took ${Date.now() - start - t} ms; serf shows left ${Date.now() - start} ms after leave() started`);
  });

  test('encrypted cluster: -encrypt=<key> and the same key in our keyring; key rotation', async () => {
    const key = randomBytes(32);
    const b64 = key.toString('base64');
    agent('e1', `${E}.1`, [`-encrypt=${b64}`]);
    agent('e2', `${E}.2`, [`-encrypt=${b64}`]);
    assert.ok((await waitFor(async () => (await serfMembers(`${E}.1`)).length > 0 && (await serfMembers(`${E}.2`)).length > 0, 10_000)) >= 0);
    await serf(['join', `-rpc-addr=${E}.2:7373`, `${E}.1:7946`]);
    const we = await weftNode('weft-e', `${E}.10`, { keys: [new Uint8Array(key)] });
    assert.is(await we.join([`${E}.1:7946`]), 1);
    const t = await waitFor(async () => {
      const ms = await serfMembers(`${E}.2`);
      return ['e1', 'e2', 'weft-e'].every((n) => ms.find((m) => m.name === n)?.status === 'alive');
    }, 10_000);
    assert.ok(t >= 0, 'weft-e not alive in encrypted serf cluster');
    assert.ok((await waitFor(() => ourState(we, 'e2') === 'alive', 5000)) >= 0);
    // a node without the key cannot join
    const wx = await weftNode('weft-x', `${E}.11`);
    assert.is(await wx.join([`${E}.1:7946`]), 0);
    await wx.shutdown();
    // rotation: serf installs + uses k2 cluster-wide (our node does not answer serf key queries), we follow
    const k2 = randomBytes(32);
    await serfKeys('install', k2.toString('base64'));
    we.installKey(new Uint8Array(k2));
    await serfKeys('use', k2.toString('base64'));
    we.useKey(new Uint8Array(k2));
    await serfKeys('remove', b64);
    we.removeKey(new Uint8Array(key));
    await new Promise((r) => setTimeout(r, 3000));
    assert.is(await statusIn(`${E}.1`, 'weft-e'), 'alive');
    assert.is(ourState(we, 'e1'), 'alive');
    assert.is(we.counters.drops['decrypt'] ?? 0, 0);
    assert.equal(we.counters.refused, { packets: 0, streams: 0 }, 'nothing refused during the rotation');
    // A second rotation as one step on our side (applyKeys: install, use, remove) between serf's.
    const k3 = randomBytes(32);
    await serfKeys('install', k3.toString('base64'));
    we.applyKeys([new Uint8Array(k2), new Uint8Array(k3)]);
    await serfKeys('use', k3.toString('base64'));
    we.applyKeys([new Uint8Array(k3)]);
    await serfKeys('remove', k2.toString('base64'));
    await new Promise((r) => setTimeout(r, 2000));
    assert.is(await statusIn(`${E}.1`, 'weft-e'), 'alive');
    assert.equal(we.counters.refused, { packets: 0, streams: 0 }, 'nothing refused during the second rotation');
    // serf agents without the key, and with a wrong one, joining through us: refused and counted.
    agent('bad-nokey', `${E}.3`, [`-join=${E}.10:7946`]);
    agent('bad-wrongkey', `${E}.4`, [`-encrypt=${randomBytes(32).toString('base64')}`, `-join=${E}.10:7946`]);
    assert.ok((await waitFor(() => we.counters.refused.streams >= 2, 10_000)) >= 0, `refused: ${JSON.stringify(we.counters.refused)}`);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(we.members().map((m) => m.name).sort(), ['e1', 'e2', 'weft-e'], 'neither outsider became a member');
    assert.equal((await serfMembers(`${E}.1`)).map((m) => m.name).sort(), ['e1', 'e2', 'weft-e']);
    console.log(`  [${el()}] weft-e alive in encrypted cluster after ${t} ms; still alive after two key rotations; keyless and wrong-key serf refused (${JSON.stringify(we.counters.refused)})`);
    await we.shutdown();
  });
}

test.run();
