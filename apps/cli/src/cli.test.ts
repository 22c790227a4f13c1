/** `weft` end to end in-process, against a fake agent on a temporary unix socket. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Info, Network, NetworkPeers, Node, Sandbox, Version } from '@weft/api';
import { fakeAgent, weft } from './testutil.ts';
import type { FakeAgent } from './testutil.ts';

const NET_WEB: Network = {
  Name: 'web', Id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90', Created: '2026-11-22T04:00:00Z', Scope: 'swarm', Driver: 'overlay', EnableIPv6: false,
  IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.1.0.0/24', Gateway: '10.1.0.1' }] }, Internal: false, Attachable: true, Ingress: false, Encrypted: true, VNI: 4097, MTU: 1450,
  Containers: {}, Endpoints: [], Options: { encrypted: '' }, Labels: {}, Peers: [], Utilisation: [],
};
const NET_BRIDGE: Network = { ...NET_WEB, Name: 'bridge', Id: 'ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100', Scope: 'local', Driver: 'bridge', Encrypted: false };
const NODES: Node[] = [
  { ID: 'x7k2m9p4q1w8e5r3t6y0u2i4o', Name: 'node-1', Status: 'ready', Availability: 'active', ManagerStatus: 'Leader', Platform: { OS: 'linux', Arch: 'x86_64' }, Addr: '10.0.0.1', Weft: true, Self: true, Tags: {} },
  { ID: 'serf-b', Name: 'serf-b', Status: 'alive', Availability: '', ManagerStatus: '', Platform: { OS: '', Arch: '' }, Addr: '10.0.0.9', Weft: false, Self: false, Tags: { role: 'db' } },
  { ID: 'w3n5b7v9c1x2z4l6k8j0h2g4f', Name: 'node-2', Status: 'down', Availability: 'active', ManagerStatus: '', Platform: { OS: 'windows', Arch: 'x86_64' }, Addr: '10.0.0.2', Weft: true, Self: false, Tags: {} },
];
const SANDBOX: Sandbox = {
  Name: 'web1', Id: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', NetnsPath: '/run/netns/web1', Hostname: 'web1', Cmd: ['python3', '-m', 'http.server', '80'],
  Pid: 4242, State: 'running', ExitCode: null, Created: new Date(Date.now() - 5 * 60_000).toISOString(),
  Networks: { web: { IPAddress: '10.1.0.5', MacAddress: '02:42:0a:01:00:05', Aliases: [], EndpointID: 'e1' }, db: { IPAddress: '10.2.0.5', MacAddress: '02:42:0a:02:00:05', Aliases: [], EndpointID: 'e2' } },
  Ports: [{ HostPort: 8080, ContainerPort: 80, Protocol: 'tcp' }], ResolvConf: '/etc/netns/web1/resolv.conf', Image: '', StartedAt: new Date(Date.now() - 5 * 60_000).toISOString(), FinishedAt: '',
};
const VERSION: Version = { Version: '0.1.0', ApiVersion: '1.0', KernelVersion: '6.1.0', Os: 'linux', Arch: 'x64', NodeVersion: 'v20.20.2' };
const INFO: Info = {
  Name: 'node-1', NodeID: 'x7k2m9p4q1w8e5r3t6y0u2i4o', Role: 'manager', ClusterID: 'c1u2s3', Managers: ['10.0.0.1:2377'], Members: 3, Networks: 2, Sandboxes: 1,
  CryptoBackend: 'libsodium (sodium-native)', DataPath: { Addr: '10.0.0.1', Port: 4789 }, Gossip: { Addr: '10.0.0.1', Port: 7946, Encrypted: true }, Os: 'linux', StateDir: '/var/lib/weft',
  Plugins: [{ Name: 'overlay', Version: '0.1.0', Provides: ['NetworkDriver'] }],
};
const notFound = (what: string) => [404, { message: `${what} not found` }] as const;

let agent: FakeAgent;
const H = () => ['-H', agent.host];
test.before(async () => {
  agent = await fakeAgent({});
});
test.after(async () => {
  await agent.close();
});
test.before.each(() => {
  agent.seen.length = 0;
  agent.routes = {};
});

test('network ls: Docker table, -q short IDs, --format json', async () => {
  agent.routes = { 'GET /networks': [200, [NET_WEB, NET_BRIDGE]] };
  const r = await weft([...H(), 'network', 'ls']);
  assert.is(r.code, 0);
  assert.is(r.err, '');
  assert.is(r.out, 'NETWORK ID     NAME      DRIVER    SCOPE\nffeeddccbbaa   bridge    bridge    local\na1b2c3d4e5f6   web       overlay   swarm\n');
  assert.is((await weft([...H(), 'network', 'ls', '-q'])).out, 'ffeeddccbbaa\na1b2c3d4e5f6\n');
  // Docker ≥ 23: one JSON object per line, the listing's fields.
  const j = await weft([...H(), 'network', 'ls', '--format', 'json']);
  assert.equal(j.out.trim().split('\n').map((l) => JSON.parse(l)), [
    { ID: 'ffeeddccbbaa', Name: 'bridge', Driver: 'bridge', Scope: 'local', IPv6: 'false', Internal: 'false', Labels: '', CreatedAt: NET_BRIDGE.Created },
    { ID: 'a1b2c3d4e5f6', Name: 'web', Driver: 'overlay', Scope: 'swarm', IPv6: 'false', Internal: 'false', Labels: '', CreatedAt: NET_WEB.Created },
  ]);
});

test('agent errors: one line on stderr, exit 1', async () => {
  agent.routes = { 'GET /networks/web': notFound('network "web"') };
  const r = await weft([...H(), 'network', 'inspect', 'web']);
  assert.is(r.code, 1);
  assert.is(r.err, 'Error: network "web" not found\n');
  assert.is(r.out, '');
  agent.routes = { 'DELETE /networks/web': [409, { message: 'network "web" has active endpoints:\n  web1' }] };
  const rm = await weft([...H(), 'network', 'rm', 'web']);
  assert.is(rm.code, 1);
  assert.is(rm.err, 'Error: network "web" has active endpoints: web1\n');
});

test('agent unreachable: says what to do, exit 1', async () => {
  const r = await weft(['-H', 'unix:///nonexistent/weft.sock', 'network', 'ls']);
  assert.is(r.code, 1);
  assert.is(r.err, 'Error: Cannot connect to the Weft agent at unix:///nonexistent/weft.sock. Is weft-agent running? (set -H or WEFT_HOST to use another socket)\n');
  const env = await weft(['ps'], { env: { WEFT_HOST: 'unix:///nonexistent/x.sock' } });
  assert.is(env.code, 1);
  assert.match(env.err, 'unix:///nonexistent/x.sock');
  const tcp = await weft(['-H', 'tcp://1.2.3.4:2375', 'ps']);
  assert.is(tcp.code, 1);
  assert.match(tcp.err, 'use unix:///path/to/weft.sock');
});

test("usage errors: Docker's exit statuses (125 for a flag error, 1 otherwise) with the usage on stderr", async () => {
  const r = await weft(['network', 'create']);
  assert.is(r.code, 1);
  assert.is(r.out, '');
  assert.is(r.err, 'Error: "weft network create" requires exactly 1 argument: NAME\n\nUsage:  weft network create [OPTIONS] NAME\nRun \'weft network create --help\' for more information.\n');
  const u = await weft(['network', 'ls', '--bogus']);
  assert.is(u.code, 125);
  assert.match(u.err, /^Error: unknown flag: --bogus\n\nUsage: {2}weft network ls \[OPTIONS\]\n/);
  assert.is((await weft(['frobnicate'])).code, 1);
  assert.is((await weft(['run', '--bogus', 'alpine'])).code, 125);
  assert.is((await weft(['network', 'ls', '--filter', 'nokey'])).code, 125);
  assert.equal(agent.seen, []);
});

test('network inspect: a JSON array like Docker; partial failures exit 1', async () => {
  agent.routes = { 'GET /networks/web': [200, NET_WEB], 'GET /networks/nope': notFound('network "nope"') };
  const r = await weft([...H(), 'network', 'inspect', 'web']);
  assert.is(r.code, 0);
  assert.ok(r.out.startsWith('[\n    {\n        "Name": "web",'));
  assert.equal(JSON.parse(r.out), [NET_WEB]);
  const two = await weft([...H(), 'network', 'inspect', 'web', 'nope']);
  assert.is(two.code, 1);
  assert.equal(JSON.parse(two.out), [NET_WEB]);
  assert.is(two.err, 'Error: network "nope" not found\n');
});

test('network create: request body (IPAM pairing, options, labels), prints the ID', async () => {
  agent.routes = { 'POST /networks/create': [200, { Id: NET_WEB.Id, Warning: 'subnet is small' }] };
  const r = await weft([
    ...H(), 'network', 'create', '-d', 'overlay', '--attachable', '--opt', 'encrypted', '-o', 'com.docker.network.driver.mtu=1400', '--subnet', '10.1.0.0/24', '--subnet', 'fd00:1::/64',
    '--gateway', 'fd00:1::1', '--gateway', '10.1.0.1', '--ip-range', '10.1.0.128/25', '--aux-address', 'r=10.1.0.2', '--ipv6', '--label', 'env=prod', 'web',
  ]);
  assert.is(r.code, 0, r.err);
  assert.is(r.out, `${NET_WEB.Id}\n`);
  assert.is(r.err, 'Warning: subnet is small\n');
  assert.equal(agent.seen, [{
    method: 'POST', url: '/networks/create', body: {
      Name: 'web', Driver: 'overlay', Attachable: true, EnableIPv6: true, Options: { encrypted: '', 'com.docker.network.driver.mtu': '1400' }, Labels: { env: 'prod' },
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.1.0.0/24', Gateway: '10.1.0.1', IPRange: '10.1.0.128/25', AuxAddresses: { r: '10.1.0.2' } }, { Subnet: 'fd00:1::/64', Gateway: 'fd00:1::1' }] },
    },
  }]);
  agent.seen.length = 0;
  await weft([...H(), 'network', 'create', 'plain']);
  assert.equal(agent.seen[0]?.body, { Name: 'plain' });
  const bad = await weft([...H(), 'network', 'create', '--subnet', '10.1.0.0/24', '--gateway', '10.9.0.1', 'w']);
  assert.is(bad.code, 1);
  assert.match(bad.err, 'no --subnet contains gateway 10.9.0.1');
  const noSubnet = await weft([...H(), 'network', 'create', '--gateway', '10.9.0.1', 'w']);
  assert.is(noSubnet.code, 1);
  // IPv6-only: Docker's --ipv4=false (the agent judges the combination); --ipv4 alone sends nothing extra.
  agent.seen.length = 0;
  await weft([...H(), 'network', 'create', '-d', 'overlay', '--ipv4=false', '--ipv6', '--subnet', 'fd00:61::/64', 'v6only']);
  await weft([...H(), 'network', 'create', '--ipv4', 'plain4']);
  assert.equal(agent.seen.map((x) => x.body), [
    { Name: 'v6only', Driver: 'overlay', EnableIPv6: true, EnableIPv4: false, IPAM: { Driver: 'default', Config: [{ Subnet: 'fd00:61::/64' }] } },
    { Name: 'plain4' },
  ]);
});

test('network rm/prune/connect/disconnect/peers/peer add/rm', async () => {
  agent.routes = {
    'DELETE /networks/web': [200, {}], 'DELETE /networks/db': notFound('network "db"'),
    'POST /networks/prune': [200, { NetworksDeleted: ['old1', 'old2'] }],
    'POST /networks/web/connect': [200, {}], 'POST /networks/web/disconnect': [200, {}],
    'POST /networks/web/peers': [200, {}], 'DELETE /networks/web/peers/02%3A42%3A0a%3A01%3A00%3A32': [200, {}],
  };
  const rm = await weft([...H(), 'network', 'rm', 'web', 'db']);
  assert.is(rm.code, 1);
  assert.is(rm.out, 'web\n');
  assert.is(rm.err, 'Error: network "db" not found\n');
  assert.is((await weft([...H(), 'network', 'prune'])).out, 'Deleted Networks:\nold1\nold2\n');
  agent.seen.length = 0;
  // On a terminal prune asks first; "no" sends nothing.
  const asked = await weft([...H(), 'network', 'prune'], { stdinIsTTY: true, confirm: false });
  assert.is(asked.code, 0);
  assert.equal(agent.seen, []);
  assert.is((await weft([...H(), 'network', 'connect', '--ip', '10.1.0.9', '--alias', 'a', 'web', 'sb1'])).code, 0);
  assert.is((await weft([...H(), 'network', 'connect', 'web', 'sb2'])).code, 0);
  assert.is((await weft([...H(), 'network', 'disconnect', '-f', 'web', 'sb1'])).code, 0);
  assert.is((await weft([...H(), 'network', 'peer', 'add', 'web', '--vtep', '192.168.1.50', '--mac', '02:42:0a:01:00:32', '--ip', '10.1.0.50'])).code, 0);
  assert.is((await weft([...H(), 'network', 'peer', 'add', 'web', '--vtep', '192.168.1.50', '--mac', '02:42:0a:01:00:33', '--ip', 'fd00:1::33'])).code, 0);
  assert.is((await weft([...H(), 'network', 'peer', 'add', 'web', '--vtep', '192.168.1.50', '--mac', '02:42:0a:01:00:34', '--ip', 'fd00:1::34', '--ip', '10.1.0.52'])).code, 0);
  const two4 = await weft([...H(), 'network', 'peer', 'add', 'web', '--vtep', '192.168.1.50', '--mac', '02:42:0a:01:00:35', '--ip', '10.1.0.53', '--ip', '10.1.0.54']);
  assert.is(two4.code, 1);
  assert.match(two4.err, 'at most one IPv4 and one IPv6');
  assert.is((await weft([...H(), 'network', 'connect', '--ip6', 'fd00:1::9', 'web', 'sb3'])).code, 0);
  const wrong = await weft([...H(), 'network', 'connect', '--ip6', '10.1.0.9', 'web', 'sb3']);
  assert.is(wrong.code, 1);
  assert.match(wrong.err, 'invalid --ip6 10.1.0.9: an IPv4 address; give it with --ip');
  assert.is((await weft([...H(), 'network', 'peer', 'rm', 'web', '--mac', '02:42:0a:01:00:32'])).code, 0);
  assert.equal(agent.seen.map((s) => [s.method, s.url, s.body]), [
    ['POST', '/networks/web/connect', { Container: 'sb1', EndpointConfig: { IPAddress: '10.1.0.9', Aliases: ['a'] } }],
    ['POST', '/networks/web/connect', { Container: 'sb2' }],
    ['POST', '/networks/web/disconnect', { Container: 'sb1', Force: true }],
    ['POST', '/networks/web/peers', { VTEP: '192.168.1.50', MAC: '02:42:0a:01:00:32', IP: '10.1.0.50' }],
    ['POST', '/networks/web/peers', { VTEP: '192.168.1.50', MAC: '02:42:0a:01:00:33', IP: 'fd00:1::33' }],
    ['POST', '/networks/web/peers', { VTEP: '192.168.1.50', MAC: '02:42:0a:01:00:34', IP: '10.1.0.52', IPv6: 'fd00:1::34' }],
    ['POST', '/networks/web/connect', { Container: 'sb3', EndpointConfig: { IPv6Address: 'fd00:1::9' } }],
    ['DELETE', '/networks/web/peers/02%3A42%3A0a%3A01%3A00%3A32', undefined],
  ]);
  // Rendering only: the values are proven against real agents with real traffic in
  // apps/agent/src/observe.e2e.test.ts.
  const peers: NetworkPeers = {
    Network: 'web', VNI: 4097, Encrypted: true, DataPlane: 'userspace', Counters: { Remote: { rx_packets: 10, rx_bytes: 980, tx_packets: 12, tx_bytes: 1176 }, Local: {} },
    Peers: [
      { Node: 'node-2', VTEP: '10.0.0.2', Endpoints: 3, Static: false, KeyEpoch: 7, SAAgeMs: 61_000, TxPackets: 5, TxBytes: 490, RxPackets: 4, RxBytes: 392, Drops: { NoRoute: 0, Auth: 2, Replay: 0, Reassembly: 0, MTU: 1, Key: 0, Send: 0 }, Counters: { tx_packets: 5 }, DataPlane: 'userspace' },
      { Node: '', VTEP: '192.168.1.50', Endpoints: 1, Static: true, KeyEpoch: 7, SAAgeMs: 5_000, TxPackets: 0, TxBytes: 0, RxPackets: 0, RxBytes: 0, Drops: { NoRoute: 0, Auth: 0, Replay: 0, Reassembly: 0, MTU: 0, Key: 0, Send: 0 }, Counters: {} },
    ],
    Endpoints: [{ Name: 'web1', EndpointID: 'e1', MacAddress: '02:42:0a:01:00:05', IPv4Address: '10.1.0.5/24', IPv6Address: '', Node: 'node-1' }],
  };
  agent.routes = { 'GET /networks/web/peers': [200, peers] };
  const pv = await weft([...H(), 'network', 'peers', 'web']);
  assert.is(pv.code, 0);
  assert.match(pv.out, 'Network:     web (VNI 4097)\nEncryption:  on\nData plane:  userspace (this host)\nRemote:      tx 12 pkts/1176 B, rx 10 pkts/980 B\nLocal:       tx 0 pkts/0 B, rx 0 pkts/0 B\n');
  assert.match(pv.out, /NODE +VTEP +DATA PLANE +ENDPOINTS +STATIC +KEY EPOCH +SA AGE +TX PKTS +TX BYTES +RX PKTS +RX BYTES +DROPS\n/);
  assert.match(pv.out, /node-2 +10\.0\.0\.2 +userspace +3 +no +7 +1m01s +5 +490 +4 +392 +auth=2 mtu=1\n/);
  assert.match(pv.out, /\(static\) +192\.168\.1\.50 +- +1 +yes +7 +5s +0 +0 +0 +0 +-\n/);
  assert.match(pv.out, 'web1');
  assert.equal(JSON.parse((await weft([...H(), 'network', 'peers', '--format', 'json', 'web'])).out), peers);
});

test('swarm init/join/join-token/leave', async () => {
  agent.routes = {
    'POST /swarm/init': [200, { NodeID: 'n1', ClusterID: 'c1', WorkerToken: 'SWMTKN-1-w', ManagerToken: 'SWMTKN-1-m' }],
    'GET /swarm/join-token?role=worker': [200, { Role: 'worker', Token: 'SWMTKN-1-w', Manager: '10.0.0.1:2377' }],
    'GET /swarm/join-token?role=manager&rotate=1': [200, { Role: 'manager', Token: 'SWMTKN-1-m2', Manager: '10.0.0.1:2377' }],
    'POST /swarm/join': [200, { NodeID: 'n2', ClusterID: 'c1', Role: 'worker' }],
    'POST /swarm/leave?force=1': [200, {}],
  };
  const init = await weft([...H(), 'swarm', 'init', '--advertise-addr', '10.0.0.1', '--default-addr-pool', '10.20.0.0/16', '--default-addr-pool-mask-length', '26', '--key-rotation-interval', '30m']);
  assert.is(init.code, 0, init.err);
  assert.equal(agent.seen[0]?.body, { AdvertiseAddr: '10.0.0.1', DefaultAddrPool: ['10.20.0.0/16'], SubnetSize: 26, KeyRotationInterval: '30m' });
  assert.match(init.out, 'Swarm initialized: current node (n1) is now a manager.');
  assert.match(init.out, '    weft swarm join --token SWMTKN-1-w 10.0.0.1:2377\n');
  const join = await weft([...H(), 'swarm', 'join', '--token', 'SWMTKN-1-w', '--data-path-addr', '10.0.0.2', '10.0.0.1:2377']);
  assert.is(join.out, 'This node joined a swarm as a worker.\n');
  assert.equal(agent.seen.find((s) => s.url === '/swarm/join')?.body, { JoinToken: 'SWMTKN-1-w', RemoteAddrs: ['10.0.0.1:2377'], DataPathAddr: '10.0.0.2' });
  assert.is((await weft([...H(), 'swarm', 'join-token', '-q', 'worker'])).out, 'SWMTKN-1-w\n');
  const rot = await weft([...H(), 'swarm', 'join-token', '--rotate', 'manager']);
  assert.match(rot.out, 'Successfully rotated manager join token.');
  assert.match(rot.out, 'weft swarm join --token SWMTKN-1-m2 10.0.0.1:2377');
  assert.is((await weft([...H(), 'swarm', 'leave', '--force'])).out, 'Node left the swarm.\n');
});

test('node ls/inspect/rm', async () => {
  agent.routes = { 'GET /nodes': [200, NODES], 'GET /nodes/node-1': [200, NODES[0]], 'DELETE /nodes/node-2?force=1': [200, {}] };
  const r = await weft([...H(), 'node', 'ls']);
  assert.is(r.code, 0);
  assert.is(
    r.out,
    [
      'ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   PLATFORM',
      'x7k2m9p4q1w8e5r3t6y0u2i4o *   node-1     Ready     Active         Leader           linux/x86_64',
      'w3n5b7v9c1x2z4l6k8j0h2g4f     node-2     Down      Active                          windows/x86_64',
      'serf-b                        serf-b     Alive                                     foreign',
      '',
    ].join('\n'),
  );
  assert.is((await weft([...H(), 'node', 'ls', '-q'])).out, 'x7k2m9p4q1w8e5r3t6y0u2i4o\nw3n5b7v9c1x2z4l6k8j0h2g4f\nserf-b\n');
  // The seed's filters: managers, then workers (foreign gossip members are neither).
  const mgr = await weft([...H(), 'node', 'ls', '--filter', 'role=manager']);
  assert.is(mgr.out, 'ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   PLATFORM\nx7k2m9p4q1w8e5r3t6y0u2i4o *   node-1     Ready     Active         Leader           linux/x86_64\n');
  const wrk = await weft([...H(), 'node', 'ls', '--filter', 'role=worker', '--format', '{{.Hostname}} {{.Status}}']);
  assert.is(wrk.out, 'node-2 Down\n');
  assert.is((await weft([...H(), 'node', 'ls', '-f', 'role=manager', '-f', 'role=worker', '--format', '{{.Hostname}}'])).out, 'node-1\nnode-2\n');
  const badRole = await weft([...H(), 'node', 'ls', '--filter', 'role=boss']);
  assert.is(badRole.code, 1);
  assert.match(badRole.err, "invalid filter 'role=boss'");
  const badKey = await weft([...H(), 'node', 'ls', '--filter', 'colour=red']);
  assert.is(badKey.err, "Error: invalid filter 'colour' (filters here: id, label, membership, name, node.label, role)\n");
  assert.is((await weft([...H(), 'node', 'inspect', '-f', '{{.Name}} {{.Platform.OS}} {{.Nope}}', 'node-1'])).out, 'node-1 linux <no value>\n');
  const badTpl = await weft([...H(), 'node', 'inspect', '-f', '{{.Name', 'node-1']);
  assert.is(badTpl.code, 64);
  assert.match(badTpl.err, 'template parsing error: template: :1: unclosed action');
  const badList = await weft([...H(), 'node', 'ls', '--format', '{{.Nme}}']);
  assert.is(badList.code, 1);
  assert.match(badList.err, "can't evaluate field Nme");
  assert.equal(JSON.parse((await weft([...H(), 'node', 'inspect', 'node-1'])).out), [NODES[0]]);
  assert.is((await weft([...H(), 'node', 'rm', '-f', 'node-2'])).out, 'node-2\n');
});

test('run -d: the agent creates the sandbox and runs the command', async () => {
  agent.routes = { 'POST /sandboxes/create': (b) => [200, { ...SANDBOX, Cmd: (b as { Cmd?: string[] }).Cmd ?? [] }] };
  const r = await weft([...H(), 'run', '-d', '--name', 'web1', '--network', 'web', '--network', 'db', '--ip', '10.1.0.5', '--alias', 'www', '--hostname', 'h1', '-p', '8080:80', '-p', '127.0.0.1:5353:53/udp', '--', 'python3', '-m', 'http.server', '80']);
  assert.is(r.code, 0, r.err);
  assert.is(r.out, `${SANDBOX.Id}\n`);
  assert.equal(r.spawned, []);
  assert.equal(agent.seen[0]?.body, {
    Name: 'web1',
    Networks: [{ Name: 'web', IPAddress: '10.1.0.5', Aliases: ['www'] }, { Name: 'db', Aliases: ['www'] }],
    Hostname: 'h1',
    Cmd: ['python3', '-m', 'http.server', '80'],
    Ports: [{ HostPort: 8080, ContainerPort: 80, Protocol: 'tcp' }, { HostPort: 5353, ContainerPort: 53, HostIP: '127.0.0.1', Protocol: 'udp' }],
  });
  const bad = await weft([...H(), 'run', '-d', '--name', 'x', '--ip', '10.0.0.1']);
  assert.is(bad.code, 1);
  assert.match(bad.err, '--ip needs a --network');
  agent.seen.length = 0;
  assert.is((await weft([...H(), 'run', '-d', '--name', 'v6', '--network', 'v6only', '--ip6', 'fd00:61::77'])).code, 0);
  assert.equal(agent.seen[0]?.body, { Name: 'v6', Networks: [{ Name: 'v6only', IPv6Address: 'fd00:61::77' }] });
  const ip4as6 = await weft([...H(), 'run', '-d', '--name', 'v6', '--network', 'v6only', '--ip', 'fd00:61::77']);
  assert.is(ip4as6.code, 1);
  assert.match(ip4as6.err, 'invalid --ip fd00:61::77: an IPv6 address; give it with --ip6');
  // Docker's grammar: IMAGE [CMD...]; -dit keeps the shell's stdin open; flags after the image belong to the command.
  agent.seen.length = 0;
  assert.is((await weft([...H(), 'run', '-dit', '--name', 'alpine2', '--network', 'test-net', 'alpine'])).code, 0);
  assert.equal(agent.seen[0]?.body, { Name: 'alpine2', Networks: [{ Name: 'test-net' }], Image: 'alpine', OpenStdin: true });
  agent.seen.length = 0;
  assert.is((await weft([...H(), 'container', 'run', '-d', '--name', 'p', 'busybox', 'ping', '-c', '1', 'x'])).code, 0);
  assert.equal(agent.seen[0]?.body, { Name: 'p', Cmd: ['ping', '-c', '1', 'x'], Image: 'busybox' });
  // An agent error in run itself is Docker's 125.
  agent.routes = { 'POST /sandboxes/create': [400, { message: 'image "foo" has no command Weft knows' }] };
  const noCmd = await weft([...H(), 'run', '-d', '--name', 'f', 'foo']);
  assert.is(noCmd.code, 125);
  assert.match(noCmd.err, 'image "foo" has no command Weft knows');
});

test('run -d --bare: a bare endpoint (no namespace), refused with a command or without -d or a network', async () => {
  agent.routes = { 'POST /sandboxes/create': [200, SANDBOX] };
  const r = await weft([...H(), 'run', '-d', '--bare', '--name', 'e1', '--network', 'web']);
  assert.is(r.code, 0, r.err);
  assert.equal(agent.seen[0]?.body, { Name: 'e1', Networks: [{ Name: 'web' }], Bare: true });
  for (const args of [['run', '-d', '--bare', '--name', 'e1', '--network', 'web', '--', 'sleep', '1'], ['run', '--bare', '--name', 'e1', '--network', 'web', '--', 'true']]) {
    const bad = await weft([...H(), ...args]);
    assert.is(bad.code, 1, args.join(' '));
    assert.match(bad.err, '--bare makes an endpoint with no namespace');
  }
  const nonet = await weft([...H(), 'run', '-d', '--bare', '--name', 'e1']);
  assert.is(nonet.code, 1);
  assert.match(nonet.err, '--bare needs a --network');
});

test('run in the foreground: ip netns exec with the exit status; the sandbox stops after, or --rm removes it', async () => {
  agent.routes = {
    'POST /sandboxes/create': (b) => [200, { ...SANDBOX, Cmd: (b as { Cmd?: string[] }).Cmd ?? ['/bin/sh'] }],
    'DELETE /sandboxes/web1?force=1': [200, {}],
    'POST /sandboxes/web1/stop?t=1&exitcode=3': [200, {}],
    'POST /sandboxes/web1/stop?t=1&exitcode=0': [200, {}],
  };
  const r = await weft([...H(), 'run', '--rm', '--name', 'web1', '--network', 'web', '--', 'sh', '-c', 'exit 3'], { exitStatus: 3 });
  assert.is(r.code, 3);
  assert.equal(r.spawned, [['ip', 'netns', 'exec', 'web1', 'sh', '-c', 'exit 3']]);
  assert.equal(agent.seen[0]?.body, { Name: 'web1', Networks: [{ Name: 'web' }], Cmd: ['sh', '-c', 'exit 3'], Attached: true });
  assert.equal(agent.seen.map((s) => `${s.method} ${s.url}`), ['POST /sandboxes/create', 'DELETE /sandboxes/web1?force=1']);
  agent.seen.length = 0;
  const kept = await weft([...H(), 'run', '--name', 'web1', '--', 'sh', '-c', 'exit 3'], { exitStatus: 3 });
  assert.is(kept.code, 3);
  assert.equal(agent.seen.map((s) => `${s.method} ${s.url}`), ['POST /sandboxes/create', 'POST /sandboxes/web1/stop?t=1&exitcode=3']);
  // The seed's `run -it --name alpine1 --network test-net alpine`: the image's shell, on the terminal.
  agent.seen.length = 0;
  const it = await weft([...H(), 'run', '-it', '--name', 'web1', '--network', 'test-net', 'alpine'], { stdinIsTTY: true });
  assert.is(it.code, 0, it.err);
  assert.equal(agent.seen[0]?.body, { Name: 'web1', Networks: [{ Name: 'test-net' }], Image: 'alpine', Attached: true });
  assert.equal(it.spawned, [['ip', 'netns', 'exec', 'web1', '/bin/sh']]);
  const noTty = await weft([...H(), 'run', '-it', '--name', 'web1', 'alpine'], { stdinIsTTY: false });
  assert.is(noTty.code, 1);
  assert.is(noTty.err, 'Error: the input device is not a TTY\n');
  const nothing = await weft([...H(), 'run', '--name', 'web1']);
  assert.is(nothing.code, 1);
  assert.match(nothing.err, 'needs an image or a command');
  const notRoot = await weft([...H(), 'run', '--name', 'a', '--', 'true'], { isRoot: false });
  assert.is(notRoot.code, 1);
  assert.match(notRoot.err, 'needs root');
});

test('exec: the namespace path from the agent; nsenter for other paths; the usual path without the agent', async () => {
  agent.routes = { 'GET /sandboxes/web1': [200, SANDBOX], 'GET /sandboxes/odd': [200, { ...SANDBOX, NetnsPath: '/var/run/weft/ns/odd' }], 'GET /sandboxes/nope': notFound('sandbox "nope"') };
  const r = await weft([...H(), 'exec', 'web1', '--', 'ping', '-c1', 'db1'], { exitStatus: 1 });
  assert.is(r.code, 1);
  assert.equal(r.spawned, [['ip', 'netns', 'exec', 'web1', 'ping', '-c1', 'db1']]);
  assert.equal((await weft([...H(), 'exec', 'odd', 'ip', 'addr'])).spawned, [['nsenter', '--net=/var/run/weft/ns/odd', '--', 'ip', 'addr']]);
  const missing = await weft([...H(), 'exec', 'nope', '--', 'true']);
  assert.is(missing.code, 1);
  assert.is(missing.err, 'Error: sandbox "nope" not found\n');
  assert.equal(missing.spawned, []);
  const down = await weft(['-H', 'unix:///nonexistent/s.sock', 'exec', 'web1', '--', 'true']);
  assert.equal(down.spawned, [['ip', 'netns', 'exec', 'web1', 'true']]);
});

test('ps (running; -a all), filters and templates, stop/start/rm, container ls|stop|start|rm|inspect', async () => {
  const job = { ...SANDBOX, Name: 'job', Id: 'abc', Image: 'alpine', State: 'exited', ExitCode: 2, Cmd: [], Networks: {}, Ports: [], Created: new Date(Date.now() - 6 * 60_000).toISOString(), FinishedAt: new Date(Date.now() - 2 * 60_000).toISOString() };
  agent.routes = {
    'GET /sandboxes': [200, [SANDBOX, job]], 'DELETE /sandboxes/web1': [200, {}], 'GET /sandboxes/web1': [200, SANDBOX],
    'POST /sandboxes/web1/stop': [200, {}], 'POST /sandboxes/web1/stop?t=0': [200, {}], 'POST /sandboxes/job/start': [200, job],
  };
  const r = await weft([...H(), 'ps']);
  assert.is(r.code, 0);
  const lines = r.out.split('\n');
  assert.is(lines[0], 'SANDBOX ID     IMAGE     COMMAND                  CREATED         STATUS         PORTS                  NAMES     NETWORKS');
  assert.is(lines[1], '0123456789ab             "python3 -m http.ser…"   5 minutes ago   Up 5 minutes   0.0.0.0:8080->80/tcp   web1      db,web');
  assert.is(lines.length, 3);
  const all = (await weft([...H(), 'ps', '-a'])).out.split('\n');
  assert.match(all[2]!, /^abc +alpine +6 minutes ago +Exited \(2\) 2 minutes ago +job$/, JSON.stringify(all));
  assert.is((await weft([...H(), 'ps', '-aq'])).out, 'web1\njob\n');
  assert.is((await weft([...H(), 'container', 'ls', '-a', '--filter', 'status=exited', '--format', '{{.Names}}'])).out, 'job\n');
  assert.is((await weft([...H(), 'ps', '-a', '--filter', 'network=web', '--format', 'table {{.Names}}\t{{.Networks}}'])).out, 'NAMES     NETWORKS\nweb1      db,web\n');
  assert.is((await weft([...H(), 'ps', '--no-trunc', '--format', '{{.ID}} {{.Command}}'])).out, `${SANDBOX.Id} "python3 -m http.server 80"\n`);
  const j = (await weft([...H(), 'ps', '-a', '--format', 'json'])).out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  assert.equal(j.map((x) => [x.Names, x.State, x.Image]), [['web1', 'running', ''], ['job', 'exited', 'alpine']]);
  assert.is((await weft([...H(), 'stop', 'web1'])).out, 'web1\n');
  assert.is((await weft([...H(), 'container', 'stop', '-t', '0', 'web1'])).out, 'web1\n');
  assert.is((await weft([...H(), 'container', 'start', 'job'])).out, 'job\n');
  assert.is((await weft([...H(), 'rm', 'web1'])).out, 'web1\n');
  assert.is((await weft([...H(), 'container', 'rm', 'web1'])).out, 'web1\n');
  assert.is((await weft([...H(), 'container', 'inspect', '-f', '{{range $n, $e := .Networks}}{{$n}}={{$e.IPAddress}} {{end}}', 'web1'])).out, 'db=10.2.0.5 web=10.1.0.5 \n');
  assert.is((await weft([...H(), 'inspect', '--format', '{{.State}}', 'web1'])).out, 'running\n');
});

test('version: client and agent; an unreachable agent is a warning, exit 0', async () => {
  agent.routes = { 'GET /version': [200, VERSION] };
  const r = await weft([...H(), 'version']);
  assert.is(r.code, 0);
  assert.match(r.out, /^Client:\n Version: +0\.1\.0\n/);
  assert.match(r.out, /\nAgent:\n Version: +0\.1\.0\n API version: +1\.0\n/);
  const j = JSON.parse((await weft([...H(), 'version', '--format', 'json'])).out) as { Client: { Version: string }; Agent: Version };
  assert.is(j.Client.Version, '0.1.0');
  assert.equal(j.Agent, VERSION);
  const down = await weft(['-H', 'unix:///nonexistent/s.sock', 'version']);
  assert.is(down.code, 0);
  assert.not.match(down.out, 'Agent:');
  assert.match(down.err, /^Warning: agent not reachable: Cannot connect to the Weft agent/);
});

test('info: node, role, cluster, members, networks, crypto backend', async () => {
  agent.routes = { 'GET /info': [200, INFO], 'GET /nodes': [200, NODES] };
  const r = await weft([...H(), 'info']);
  assert.is(r.code, 0);
  for (const want of ['Node:            node-1 (x7k2m9p4q1w8e5r3t6y0u2i4o)', 'Role:            manager', 'Cluster:         c1u2s3', 'Members:         3', 'Networks:        2', 'Crypto backend:  libsodium (sodium-native)', 'Gossip:          10.0.0.1:7946 (encrypted)', '  node-1 (this node)  10.0.0.1  Ready  Leader', '  serf-b  10.0.0.9  Alive  (foreign)', '  overlay 0.1.0  NetworkDriver']) {
    assert.ok(r.out.includes(want), `missing ${JSON.stringify(want)} in\n${r.out}`);
  }
  assert.equal(JSON.parse((await weft([...H(), 'info', '--format', 'json'])).out), INFO);
});

test('info: gossip key epoch and refusals (never a key); unencrypted gossip says so', async () => {
  const sealed: Info = { ...INFO, Gossip: { Addr: '10.0.0.1', Port: 7946, Encrypted: true, KeyEpoch: 7, Keys: 3, Refused: { Packets: 3, Streams: 1 } } };
  agent.routes = { 'GET /info': [200, sealed], 'GET /nodes': [200, NODES] };
  assert.match((await weft([...H(), 'info'])).out, 'Gossip:          10.0.0.1:7946 (encrypted, key epoch 7; refused 3 datagrams, 1 stream without a valid key)');
  agent.routes = { 'GET /info': [200, { ...sealed, Gossip: { ...sealed.Gossip, Refused: { Packets: 0, Streams: 0 } } }], 'GET /nodes': [200, NODES] };
  assert.match((await weft([...H(), 'info'])).out, 'Gossip:          10.0.0.1:7946 (encrypted, key epoch 7)\n');
  agent.routes = { 'GET /info': [200, { ...INFO, Gossip: { Addr: '10.0.0.1', Port: 7946, Encrypted: false } }], 'GET /nodes': [200, NODES] };
  assert.match((await weft([...H(), 'info'])).out, 'Gossip:          10.0.0.1:7946 (not encrypted)');
});

test('services and stacks: an agent without those endpoints gets a clear error, exit 1', async () => {
  const cases = [
    ['service', 'create', '--name', 'api', '--', 'srv'], ['service', 'ls'], ['service', 'ps', 'api'], ['service', 'inspect', 'api'], ['service', 'scale', 'api=2'],
    ['service', 'update', '--replicas', '2', 'api'], ['service', 'rm', 'api'], ['stack', 'ls'], ['stack', 'ps', 'shop'], ['stack', 'rm', 'shop'],
  ];
  for (const argv of cases) {
    const r = await weft([...H(), ...argv]);
    assert.is(r.code, 1, argv.join(' '));
    assert.match(r.err, /^Error: (Services|Stacks) are not supported by this agent yet \(it has no \/(services|stacks) endpoint\); upgrade weft-agent\n$/, argv.join(' '));
  }
  const deploy = await weft([...H(), 'stack', 'deploy', '-c', 'compose.yml', 'shop'], { files: { 'compose.yml': 'services: {}\n' } });
  assert.is(deploy.code, 1);
  assert.match(deploy.err, 'Stacks are not supported by this agent yet');
  const missingFile = await weft([...H(), 'stack', 'deploy', '-c', 'nope.yml', 'shop']);
  assert.is(missingFile.err, 'Error: cannot read compose file "nope.yml": no such file\n');
});

test('services: Docker-shaped create, ls, scale (read-modify-write), a missing service is the agent message', async () => {
  const spec = { Name: 'api', TaskTemplate: { ContainerSpec: { Command: ['srv'] }, Networks: [{ Target: 'web' }] }, Mode: { Replicated: { Replicas: 3 } }, EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] } };
  const svc = { ID: '9f8e7d6c5b4a39281706f5e4d3c2b1a0', Version: { Index: 12 }, Spec: spec, ServiceStatus: { RunningTasks: 2, DesiredTasks: 3 } };
  agent.routes = {
    'POST /services/create': [200, { ID: svc.ID }],
    'GET /services?status=true': [200, [svc]],
    'GET /services': [200, [svc]],
    'GET /services/api': [200, svc],
    'GET /services/nope': notFound('service "nope"'),
    [`POST /services/${svc.ID}/update?version=12`]: [200, {}],
    [`GET /tasks?filters=${encodeURIComponent('{"service":["api"]}')}`]: [200, [{ ID: 't1', ServiceID: svc.ID, Slot: 1, NodeID: NODES[0]?.ID, DesiredState: 'running', Status: { State: 'running' } }]],
    'GET /nodes': [200, NODES],
  };
  const c = await weft([...H(), 'service', 'create', '--name', 'api', '--replicas', '3', '--network', 'web', '--publish', 'published=8080,target=80', '--endpoint-mode', 'vip', '--', 'srv']);
  assert.is(c.code, 0, c.err);
  assert.is(c.out, `${svc.ID}\n`);
  assert.equal(agent.seen[0]?.body, spec);
  const ls = await weft([...H(), 'service', 'ls']);
  assert.is(ls.out, 'ID             NAME      MODE         REPLICAS   IMAGE     ENDPOINT MODE   PORTS\n9f8e7d6c5b4a   api       replicated   2/3                  vip             *:8080->80/tcp\n');
  assert.is((await weft([...H(), 'service', 'ls', '--filter', 'name=ap', '--format', '{{.Name}}: {{.Mode}} {{.Replicas}}'])).out, 'api: replicated 2/3\n');
  assert.is((await weft([...H(), 'service', 'ls', '--filter', 'name=zz', '-q'])).out, '');
  agent.seen.length = 0;
  const sc = await weft([...H(), 'service', 'scale', 'api=5']);
  assert.is(sc.out, 'api scaled to 5\n');
  assert.equal(agent.seen.map((s) => `${s.method} ${s.url}`), ['GET /services/api', `POST /services/${svc.ID}/update?version=12`]);
  assert.equal(agent.seen[1]?.body, { ...spec, Mode: { Replicated: { Replicas: 5 } } });
  agent.seen.length = 0;
  await weft([...H(), 'service', 'update', '--network-add', 'db', '--network-rm', 'web', 'api']);
  assert.equal((agent.seen[1]?.body as typeof spec).TaskTemplate.Networks, [{ Target: 'db' }]);
  const ps = await weft([...H(), 'service', 'ps', 'api']);
  assert.is(ps.code, 0, ps.err);
  assert.match(ps.out, /^ID +NAME +NODE +DESIRED STATE +CURRENT STATE +ERROR\nt1 +api\.1 +node-1 +Running +Running\n$/);
  const missing = await weft([...H(), 'service', 'inspect', 'nope']);
  assert.is(missing.code, 1);
  assert.is(missing.err, 'Error: service "nope" not found\n');
  const badScale = await weft([...H(), 'service', 'scale', 'api']);
  assert.is(badScale.code, 1);
  assert.match(badScale.err, 'use SERVICE=REPLICAS');
});

test('stack deploy sends the compose files', async () => {
  agent.routes = { 'POST /stacks/deploy': [200, { Services: ['shop_web'], Networks: ['shop_default'] }], 'GET /stacks': [200, [{ Name: 'shop', Services: 1 }]] };
  const r = await weft([...H(), 'stack', 'deploy', '-c', 'a.yml', '-c', 'b.yml', 'shop'], { files: { 'a.yml': 'A', 'b.yml': 'B' } });
  assert.is(r.code, 0, r.err);
  assert.equal(agent.seen[0]?.body, { Name: 'shop', ComposeFiles: ['A', 'B'] });
  assert.is(r.out, 'Creating network shop_default\nCreating service shop_web\n');
  assert.is((await weft([...H(), 'stack', 'ls'])).out, 'NAME      SERVICES\nshop      1\n');
  // Interpolation variables: the shell's environment over .env beside the first file; only the names the files use; $$ escapes.
  agent.seen.length = 0;
  const compose = 'services:\n  web:\n    command: "sleep ${DELAY:-5} $$NOTME"\n    labels: { tier: $TIER, team: "${TEAM}" }\n';
  const env = await weft([...H(), 'stack', 'deploy', '-c', 'conf/stack.yml', 'shop'], {
    files: { 'conf/stack.yml': compose, 'conf/.env': '# defaults\nexport TIER=bronze\nTEAM="net ops"\nNOTME=x\n' },
    env: { TIER: 'gold', HOME: '/root', NOTME: 'y' },
  });
  assert.is(env.code, 0, env.err);
  assert.equal(agent.seen[0]?.body, { Name: 'shop', ComposeFiles: [compose], Env: { TEAM: 'net ops', TIER: 'gold' } });
});

test('progress: a step that takes over a second says what it waits for, once', async () => {
  const slow = <T>(v: T) => () => new Promise<readonly [number, unknown]>((r) => setTimeout(() => r([200, v]), 1150));
  agent.routes = { 'POST /networks/create': slow({ Id: 'abc', Warning: '' }), 'GET /networks': slow([]) };
  const c = await weft([...H(), 'network', 'create', 'web']);
  assert.is(c.code, 0);
  assert.is(c.err, 'Creating network "web"...\n');
  const ls = await weft([...H(), 'network', 'ls']);
  assert.is(ls.err, 'Waiting for the agent...\n');
  agent.routes = { 'GET /networks': [200, []] };
  assert.is((await weft([...H(), 'network', 'ls'])).err, '');
});

test.run();
