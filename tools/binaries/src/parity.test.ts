/**
 * The weft CLI as a process on three runtimes, the TypeScript sources on Node (bin/weft.js) and
 * on Deno (apps/cli/src/main.ts) and the single-file binary (Bun), against one fake agent:
 * identical stdout, stderr and exit status for every command line. Only the `Runtime` line of
 * `weft version` names the runtime; it is compared after replacing the runtime's name.
 * (The CLI's own suite, in-process, runs on both runtimes through its test and test-deno targets.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Info, Network, Node, Version } from '@weft/api';
import { fakeAgent, type FakeAgent } from '../../../apps/cli/src/testutil.ts';
import { binaries, cliRunners, run, type Ran } from './testutil.ts';

const NET_WEB: Network = {
  Name: 'web', Id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90', Created: '2026-11-22T04:00:00Z', Scope: 'swarm', Driver: 'overlay', EnableIPv6: false,
  IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.1.0.0/24', Gateway: '10.1.0.1' }] }, Internal: false, Attachable: true, Ingress: false, Encrypted: true, VNI: 4097, MTU: 1450,
  Containers: {}, Endpoints: [], Options: { encrypted: '' }, Labels: {}, Peers: [], Utilisation: [],
};
const NODES: Node[] = [
  { ID: 'x7k2m9p4q1w8e5r3t6y0u2i4o', Name: 'node-1', Status: 'ready', Availability: 'active', ManagerStatus: 'Leader', Platform: { OS: 'linux', Arch: 'x86_64' }, Addr: '10.0.0.1', Weft: true, Self: true, Tags: {} },
  { ID: 'serf-b', Name: 'serf-b', Status: 'alive', Availability: '', ManagerStatus: '', Platform: { OS: '', Arch: '' }, Addr: '10.0.0.9', Weft: false, Self: false, Tags: { role: 'db' } },
];
const VERSION: Version = { Version: '0.1.0', ApiVersion: '1.0', KernelVersion: '6.1.0', Os: 'linux', Arch: 'x64', NodeVersion: 'v20.20.2' };
const INFO: Info = {
  Name: 'node-1', NodeID: 'x7k2m9p4q1w8e5r3t6y0u2i4o', Role: 'manager', ClusterID: 'c1u2s3', Managers: ['10.0.0.1:2377'], Members: 2, Networks: 1, Sandboxes: 0,
  CryptoBackend: 'libsodium-ffi', DataPath: { Addr: '10.0.0.1', Port: 4789 }, Gossip: { Addr: '10.0.0.1', Port: 7946, Encrypted: true }, Os: 'linux', StateDir: '/var/lib/weft',
  Plugins: [{ Name: 'overlay', Version: '0.1.0', Provides: ['NetworkDriver'] }],
};

/** Command lines (after `-H <fake agent>`) covering tables, JSON, agent errors, usage errors and help. */
const CASES: readonly (readonly string[])[] = [
  ['version'],
  ['version', '--format', 'json'],
  ['info'],
  ['network', 'ls'],
  ['network', 'ls', '-q'],
  ['network', 'ls', '--format', 'json'],
  ['network', 'inspect', 'web'],
  ['network', 'inspect', 'web', 'nope'],
  ['network', 'rm', 'nope'],
  ['node', 'ls'],
  ['network', 'create'],
  ['network', 'bogus'],
  ['--bogus-flag'],
  ['network', '--help'],
  ['help', 'run'],
  ['service', 'ls'],
];

/** The only place the runtimes may differ: the client's Runtime line and field. */
const normalise = (r: Ran): Ran => ({
  status: r.status,
  out: r.out.replace(/^( Runtime:\s+)(node|deno|bun) \S+$/m, '$1<runtime>').replace(/"Runtime": "(node|deno|bun) [^"]+"/, '"Runtime": "<runtime>"').replace(/"NodeVersion": "v[^"]+",\n(\s+"Os")/, '"NodeVersion": "<node>",\n$1'),
  err: r.err,
});

let agent: FakeAgent;
test.before(async () => {
  agent = await fakeAgent({
    'GET /version': [200, VERSION],
    'GET /info': [200, INFO],
    'GET /networks': [200, [NET_WEB]],
    'GET /networks/web': [200, NET_WEB],
    'GET /networks/nope': [404, { message: 'network "nope" not found' }],
    'DELETE /networks/nope': [404, { message: 'network "nope" not found' }],
    'GET /nodes': [200, NODES],
  });
});
test.after(async () => {
  await agent.close();
});

test('every command line: the same output and exit status from Node, Deno and the binary', async () => {
  const runners = cliRunners(binaries());
  const env = { ...process.env, NO_COLOR: '1', WEFT_HOST: '' };
  const problems: string[] = [];
  for (const args of CASES) {
    const got: (readonly [string, Ran])[] = [];
    for (const [name, pre] of Object.entries(runners)) got.push([name, normalise(await run([...pre, '-H', agent.host, ...args], { env }))]);
    const [, want] = got[0]!;
    for (const [name, r] of got.slice(1)) {
      if (r.status !== want.status || r.out !== want.out || r.err !== want.err) {
        problems.push(`weft ${args.join(' ')}: ${name} differs from node\n  node:  exit ${want.status} out ${JSON.stringify(want.out.slice(0, 400))} err ${JSON.stringify(want.err.slice(0, 400))}\n  ${name}: exit ${r.status} out ${JSON.stringify(r.out.slice(0, 400))} err ${JSON.stringify(r.err.slice(0, 400))}`);
      }
    }
    // The cases mean something: they succeed, fail (1) or are misused (125, Docker's CLI status for a usage error).
    assert.ok([0, 1, 125].includes(want.status), `weft ${args.join(' ')}: exit ${want.status} ${want.err}`);
  }
  assert.is(problems.length, 0, problems.join('\n'));
});

test('the runtime line names each runtime', async () => {
  const runners = cliRunners(binaries());
  const line = async (pre: string[]) => /^ Runtime:\s+(.*)$/m.exec((await run([...pre, '-H', agent.host, 'version'])).out)?.[1] ?? '';
  assert.match(await line(runners.node), /^node v\d+/);
  assert.match(await line(runners.deno), /^deno \d+/);
  assert.match(await line(runners.binary), /^bun \d+/);
});

test('an unreachable agent: the same error and exit status everywhere', async () => {
  const runners = cliRunners(binaries());
  const rs: Ran[] = [];
  for (const pre of Object.values(runners)) rs.push(await run([...pre, '-H', 'unix:///nonexistent/weft-parity.sock', 'network', 'ls']));
  for (const r of rs) assert.equal(r, rs[0]);
  assert.is(rs[0]!.status, 1);
  assert.match(rs[0]!.err, 'Cannot connect to the Weft agent');
});

test.run();
