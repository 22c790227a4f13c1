import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TABLE } from './commands.ts';
import { DEFAULT_HOST, parse } from './parse.ts';
import type { Parsed } from './spec.ts';
import { UsageError } from './spec.ts';

async function ok(argv: string[], env: Record<string, string> = {}): Promise<Parsed> {
  const r = await parse(argv, TABLE, env);
  if (r.kind !== 'run') throw new Error(`expected a command, got help for ${r.path.join(' ')}`);
  return r.parsed;
}
async function usage(argv: string[]): Promise<UsageError> {
  try {
    await parse(argv, TABLE, {});
  } catch (e) {
    assert.instance(e, UsageError);
    return e as UsageError;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
}
const view = (p: Parsed) => ({ flags: Object.fromEntries(p.flags), args: p.args, rest: p.rest });

/** One valid command line per command, with what the parser must make of it. */
const CASES: [string[], { flags?: Record<string, unknown[]>; args?: Record<string, string[]>; rest?: string[] }][] = [
  [['version', '--format', 'json'], { flags: { format: ['json'] } }],
  [['info'], {}],
  [
    ['swarm', 'init', '--advertise-addr', '10.0.0.1', '--listen-addr=10.0.0.1:2377', '--data-path-addr', '10.0.0.1', '--data-path-port', '4790', '--default-addr-pool', '10.20.0.0/16', '--default-addr-pool', '10.30.0.0/16', '--default-addr-pool-mask-length', '26', '--key-rotation-interval', '30m'],
    {
      flags: {
        'advertise-addr': ['10.0.0.1'], 'listen-addr': ['10.0.0.1:2377'], 'data-path-addr': ['10.0.0.1'], 'data-path-port': [4790],
        'default-addr-pool': ['10.20.0.0/16', '10.30.0.0/16'], 'default-addr-pool-mask-length': [26], 'key-rotation-interval': ['30m'],
      },
    },
  ],
  [['swarm', 'join', '--token', 'SWMTKN-1-x', '--advertise-addr', 'fd00::2', '10.0.0.1:2377'], { flags: { token: ['SWMTKN-1-x'], 'advertise-addr': ['fd00::2'] }, args: { 'MANAGER_IP:PORT': ['10.0.0.1:2377'] } }],
  [['swarm', 'join-token', '--rotate', '-q', 'manager'], { flags: { rotate: [true], quiet: [true] }, args: { ROLE: ['manager'] } }],
  [['swarm', 'leave', '-f'], { flags: { force: [true] } }],
  [['node', 'ls', '-q'], { flags: { quiet: [true] } }],
  [['node', 'inspect', 'n1', 'n2'], { args: { NODE: ['n1', 'n2'] } }],
  [['node', 'rm', '--force', 'n1'], { flags: { force: [true] }, args: { NODE: ['n1'] } }],
  [['node', 'promote', 'n1', 'n2'], { args: { NODE: ['n1', 'n2'] } }],
  [['node', 'demote', 'n1'], { args: { NODE: ['n1'] } }],
  [
    ['network', 'create', '-d', 'overlay', '--attachable', '--internal', '--opt', 'encrypted', '-o', 'com.docker.network.driver.mtu=1400', '--subnet', '10.1.0.0/24', '--gateway', '10.1.0.1', '--ip-range', '10.1.0.128/25', '--aux-address', 'host1=10.1.0.2', '--ipv6', '--label', 'env=prod', 'web'],
    {
      flags: {
        driver: ['overlay'], attachable: [true], internal: [true], opt: [{ key: 'encrypted', value: '' }, { key: 'com.docker.network.driver.mtu', value: '1400' }], subnet: ['10.1.0.0/24'],
        gateway: ['10.1.0.1'], 'ip-range': ['10.1.0.128/25'], 'aux-address': [{ key: 'host1', value: '10.1.0.2' }], ipv6: [true], label: [{ key: 'env', value: 'prod' }],
      },
      args: { NAME: ['web'] },
    },
  ],
  [['network', 'ls', '--format=json'], { flags: { format: ['json'] } }],
  [['network', 'inspect', 'web', 'db'], { args: { NAME: ['web', 'db'] } }],
  [['network', 'rm', 'web'], { args: { NAME: ['web'] } }],
  [['network', 'prune', '-f'], { flags: { force: [true] } }],
  [['network', 'connect', '--ip', '10.1.0.9', '--alias', 'a', '--alias', 'b', 'web', 'sb1'], { flags: { ip: ['10.1.0.9'], alias: ['a', 'b'] }, args: { NETWORK: ['web'], SANDBOX: ['sb1'] } }],
  [['network', 'disconnect', 'web', 'sb1'], { args: { NETWORK: ['web'], SANDBOX: ['sb1'] } }],
  [['network', 'peers', 'web'], { args: { NAME: ['web'] } }],
  [['network', 'peer', 'add', 'web', '--vtep', '192.168.1.50', '--mac', '02:42:0a:01:00:32', '--ip', '10.1.0.50'], { flags: { vtep: ['192.168.1.50'], mac: ['02:42:0a:01:00:32'], ip: ['10.1.0.50'] }, args: { NAME: ['web'] } }],
  [['network', 'peer', 'rm', 'web', '--mac', '02:42:0a:01:00:32'], { flags: { mac: ['02:42:0a:01:00:32'] }, args: { NAME: ['web'] } }],
  [
    ['run', '-d', '--name', 'a', '--network', 'web', '--network', 'db', '--ip', '10.1.0.5', '--alias', 'x', '--hostname', 'h', '-p', '8080:80', '-p127.0.0.1:53:53/udp', '--', 'sleep', '100'],
    {
      flags: {
        detach: [true], name: ['a'], network: ['web', 'db'], ip: ['10.1.0.5'], alias: ['x'], hostname: ['h'],
        publish: [{ hostPort: 8080, port: 80, protocol: 'tcp' }, { hostIp: '127.0.0.1', hostPort: 53, port: 53, protocol: 'udp' }],
      },
      rest: ['sleep', '100'],
    },
  ],
  [['exec', 'a', '--', 'ping', '-c1', 'b'], { args: { NAME: ['a'] }, rest: ['ping', '-c1', 'b'] }],
  [['ps', '--format', 'json'], { flags: { format: ['json'] } }],
  [['node', 'promote', 'n2'], { args: { NODE: ['n2'] } }],
  [['node', 'demote', 'n2'], { args: { NODE: ['n2'] } }],
  [['stop', '-t', '3', 'a', 'b'], { flags: { time: [3] }, args: { NAME: ['a', 'b'] } }],
  [['start', 'a'], { args: { NAME: ['a'] } }],
  [['inspect', '-f', '{{.Name}}', 'a'], { flags: { format: ['{{.Name}}'] }, args: { NAME: ['a'] } }],
  [['container', 'run', '-dit', '--name', 'alpine2', '--network', 'test-net', 'alpine'], { flags: { detach: [true], interactive: [true], tty: [true], name: ['alpine2'], network: ['test-net'] }, args: { IMAGE: ['alpine'] } }],
  [['container', 'exec', '-it', 'a', 'sh'], { flags: { interactive: [true], tty: [true] }, args: { NAME: ['a'] }, rest: ['sh'] }],
  [['container', 'ls', '-a', '--filter', 'status=exited', '--no-trunc'], { flags: { all: [true], filter: [{ key: 'status', value: 'exited' }], 'no-trunc': [true] } }],
  [['container', 'stop', 'alpine2'], { args: { NAME: ['alpine2'] } }],
  [['container', 'start', 'alpine2'], { args: { NAME: ['alpine2'] } }],
  [['container', 'rm', '-f', 'alpine2'], { flags: { force: [true] }, args: { NAME: ['alpine2'] } }],
  [['container', 'inspect', '--format', '{{json .}}', 'alpine2'], { flags: { format: ['{{json .}}'] }, args: { NAME: ['alpine2'] } }],
  [['rm', '-f', 'a', 'b'], { flags: { force: [true] }, args: { NAME: ['a', 'b'] } }],
  [
    ['service', 'create', '--name', 'api', '--replicas', '3', '--network', 'web', '--publish', 'published=8080,target=80', '-p', '53:53/udp', '--endpoint-mode', 'vip', '--', 'srv', '-x'],
    {
      flags: {
        name: ['api'], replicas: [3], network: ['web'], 'endpoint-mode': ['vip'],
        publish: [{ published: 8080, target: 80, protocol: 'tcp', mode: 'ingress' }, { published: 53, target: 53, protocol: 'udp', mode: 'ingress' }],
      },
      rest: ['srv', '-x'],
    },
  ],
  [['service', 'ls', '-q'], { flags: { quiet: [true] } }],
  [['service', 'ps', 'api'], { args: { SERVICE: ['api'] } }],
  [['service', 'inspect', 'api'], { args: { SERVICE: ['api'] } }],
  [['service', 'scale', 'api=3', 'db=1'], { args: { 'SERVICE=REPLICAS': ['api=3', 'db=1'] } }],
  [['service', 'update', '--network-add', 'db', '--network-rm', 'web', '--replicas', '0', 'api'], { flags: { 'network-add': ['db'], 'network-rm': ['web'], replicas: [0] }, args: { SERVICE: ['api'] } }],
  [['service', 'rm', 'api'], { args: { SERVICE: ['api'] } }],
  [['stack', 'deploy', '-c', 'a.yml', '--compose-file', 'b.yml', 'shop'], { flags: { 'compose-file': ['a.yml', 'b.yml'] }, args: { NAME: ['shop'] } }],
  [['stack', 'ls'], {}],
  [['stack', 'ps', 'shop'], { args: { NAME: ['shop'] } }],
  [['stack', 'rm', 'shop'], { args: { NAME: ['shop'] } }],
  [['system', 'events', '--since', '10m', '--until', '1700000000', '-f', 'type=network', '--filter', 'event=create', '--format', 'json'], { flags: { since: ['10m'], until: ['1700000000'], filter: [{ key: 'type', value: 'network' }, { key: 'event', value: 'create' }], format: ['json'] } }],
  [['events', '--filter', 'type=node'], { flags: { filter: [{ key: 'type', value: 'node' }] } }],
];

test('every command parses a full command line', async () => {
  const covered = new Set<string>();
  for (const [argv, want] of CASES) {
    const p = await ok(argv);
    covered.add(p.cmd.path.join(' '));
    const v = view(p);
    const expectArgs: Record<string, string[]> = {};
    for (const a of p.cmd.args) expectArgs[a.name] = want.args?.[a.name] ?? [];
    assert.equal(v.flags, want.flags ?? {}, argv.join(' '));
    assert.equal(v.args, expectArgs, argv.join(' '));
    assert.equal(v.rest, want.rest ?? [], argv.join(' '));
  }
  assert.equal([...covered].sort(), TABLE.commands.map((c) => c.path.join(' ')).sort());
});

test('host: -H anywhere before --, else WEFT_HOST, else the default', async () => {
  assert.is((await ok(['network', 'ls'])).host, DEFAULT_HOST);
  assert.is((await ok(['network', 'ls'], { WEFT_HOST: 'unix:///tmp/w.sock' })).host, 'unix:///tmp/w.sock');
  assert.is((await ok(['-H', 'unix:///a.sock', 'network', 'ls'], { WEFT_HOST: 'unix:///b' })).host, 'unix:///a.sock');
  assert.is((await ok(['network', '--host=unix:///c.sock', 'ls'])).host, 'unix:///c.sock');
  assert.is((await ok(['network', 'ls', '-H', 'unix:///d.sock'])).host, 'unix:///d.sock');
  const run = await ok(['run', '--name', 'a', '--', 'x', '-H', 'y']);
  assert.is(run.host, DEFAULT_HOST);
  assert.equal(run.rest, ['x', '-H', 'y']);
});

test('aliases, bundled short flags, command lines without --', async () => {
  assert.equal((await ok(['network', 'list'])).cmd.path, ['network', 'ls']);
  assert.equal((await ok(['node', 'remove', 'x'])).cmd.path, ['node', 'rm']);
  const jt = await ok(['swarm', 'join-token', '-q', 'worker']);
  assert.equal(view(jt).flags, { quiet: [true] });
  const rm = await ok(['rm', '-f', 'a']);
  assert.equal(view(rm).flags, { force: [true] });
  // Like `docker run IMAGE CMD`: flags stop at the image; what follows is the command.
  const run = await ok(['run', '-d', '--name', 'a', 'busybox', 'sleep', '-x', '5']);
  assert.equal(run.args, { IMAGE: ['busybox'] });
  assert.equal(run.rest, ['sleep', '-x', '5']);
  const noImage = await ok(['run', '-d', '--name', 'a', '--', 'sleep', '-x', '5']);
  assert.equal([noImage.args, noImage.rest], [{ IMAGE: [] }, ['sleep', '-x', '5']]);
  const exec = await ok(['exec', 'a', 'ls', '-l']);
  assert.equal(exec.args, { NAME: ['a'] });
  assert.equal(exec.rest, ['ls', '-l']);
  // -d without a command only creates the sandbox.
  assert.equal((await ok(['run', '-d', '--name', 'a'])).rest, []);
  // Repeated single-value flags: the last wins (like Docker).
  assert.equal(view(await ok(['network', 'create', '-d', 'bridge', '-d', 'overlay', 'w'])).flags, { driver: ['overlay'] });
});

test('help: --help and -h on any command, help words, groups', async () => {
  for (const c of TABLE.commands) {
    for (const h of ['--help', '-h']) {
      const r = await parse([...c.path, h], TABLE, {});
      assert.equal(r, { kind: 'help', path: c.path });
    }
  }
  assert.equal(await parse([], TABLE, {}), { kind: 'help', path: [] });
  assert.equal(await parse(['network'], TABLE, {}), { kind: 'help', path: ['network'] });
  assert.equal(await parse(['network', 'peer', '--help'], TABLE, {}), { kind: 'help', path: ['network', 'peer'] });
  assert.equal(await parse(['help', 'network', 'create'], TABLE, {}), { kind: 'help', path: ['network', 'create'] });
  // --help wins over missing arguments.
  assert.equal(await parse(['network', 'create', '--help'], TABLE, {}), { kind: 'help', path: ['network', 'create'] });
});

test('usage errors name the problem and the command', async () => {
  const cases: [string[], string, string[]][] = [
    [['bogus'], 'unknown command "bogus" for "weft"', []],
    [['network', 'bogus'], 'unknown command "bogus" for "weft network"', ['network']],
    [['network', 'ls', '--bogus'], 'unknown flag: --bogus', ['network', 'ls']],
    [['network', 'ls', '-z'], "unknown shorthand flag: 'z' in -z", ['network', 'ls']],
    [['network', 'create'], '"weft network create" requires exactly 1 argument: NAME', ['network', 'create']],
    [['network', 'create', 'a', 'b'], 'requires exactly 1 argument: NAME (unexpected "b")', ['network', 'create']],
    [['network', 'rm'], '"weft network rm" requires at least 1 argument: NAME...', ['network', 'rm']],
    [['network', 'ls', 'x'], '"weft network ls" accepts no arguments (unexpected "x")', ['network', 'ls']],
    [['network', 'connect', 'web'], 'requires exactly 2 arguments: NETWORK SANDBOX', ['network', 'connect']],
    [['network', 'create', '--subnet'], 'flag needs an argument: --subnet CIDR', ['network', 'create']],
    [['network', 'create', '--subnet', '10.0.0.0/33', 'w'], 'invalid argument "10.0.0.0/33" for --subnet', ['network', 'create']],
    [['network', 'create', '--gateway', '10.0.0.300', 'w'], 'invalid argument "10.0.0.300" for --gateway', ['network', 'create']],
    [['network', 'create', '--aux-address', 'h1', 'w'], '"h1" is not NAME=IP', ['network', 'create']],
    [['network', 'ls', '--filter', 'role'], 'invalid argument "role" for --filter: "role" is not KEY=VALUE', ['network', 'ls']],
    [['network', 'peer', 'add', 'web', '--vtep', '1.2.3.4', '--ip', '10.0.0.1'], '"weft network peer add" requires --mac MAC', ['network', 'peer', 'add']],
    [['network', 'peer', 'add', 'web', '--vtep', '1.2.3.4', '--ip', '10.0.0.1', '--mac', 'zz'], 'invalid argument "zz" for --mac', ['network', 'peer', 'add']],
    [['swarm', 'init', '--key-rotation-interval', '12x'], 'invalid argument "12x" for --key-rotation-interval: invalid duration "12x": unknown unit "x"', ['swarm', 'init']],
    [['swarm', 'init', '--data-path-port', 'abc'], '"abc" is not a whole number', ['swarm', 'init']],
    [['swarm', 'init', '--data-path-port', '70000'], '70000 is above the maximum 65535', ['swarm', 'init']],
    [['swarm', 'init', '--listen-addr', 'nowhere'], 'is not IP:PORT', ['swarm', 'init']],
    [['swarm', 'init', '--listen-addr', '1.2.3:80'], 'invalid argument "1.2.3:80" for --listen-addr', ['swarm', 'init']],
    [['swarm', 'join', '10.0.0.1:2377'], '"weft swarm join" requires --token TOKEN', ['swarm', 'join']],
    [['swarm', 'join-token', 'admin'], 'invalid ROLE "admin": use worker or manager', ['swarm', 'join-token']],
    [['swarm', 'leave', '--force=maybe'], 'invalid argument "maybe" for --force: use true or false', ['swarm', 'leave']],
    [['run', '--name', 'a', '-p', '80', '--', 'sh'], 'invalid argument "80" for --publish', ['run']],
    [['exec', 'a'], '"weft exec" needs a command to run', ['exec']],
    [['exec'], '"weft exec" requires exactly 1 argument: NAME', ['exec']],
    [['service', 'create', '--name', 's', '--replicas', '-1', '--', 'x'], '-1 is below the minimum 0', ['service', 'create']],
    [['service', 'create', '--name', 's', '--publish', 'published=80', '--', 'x'], 'target=PORT is required', ['service', 'create']],
    [['service', 'create', '--name', 's', '--endpoint-mode', 'rr', '--', 'x'], 'use one of vip, dnsrr', ['service', 'create']],
    [['stack', 'deploy', 'shop'], '"weft stack deploy" requires --compose-file FILE', ['stack', 'deploy']],
    [['help', 'nothing'], 'unknown help topic "nothing"', []],
    [['-x'], "unknown shorthand flag: 'x' in -x", []],
    [['netwrk', 'ls'], 'unknown command "netwrk" for "weft" (did you mean "network"?)', []],
    [['network', 'lst'], 'unknown command "lst" for "weft network" (did you mean "ls"?)', ['network']],
    [['network', 'create', '--subnett', '10.0.0.0/8', 'x'], 'unknown flag: --subnett (did you mean "--subnet"?)', ['network', 'create']],
    [['swarm', 'init', '--advertise', '1.2.3.4'], 'unknown flag: --advertise (did you mean "--advertise-addr"?)', ['swarm', 'init']],
  ];
  for (const [argv, msg, path] of cases) {
    const e = await usage(argv);
    assert.ok(e.message.includes(msg), `${argv.join(' ')}: ${e.message}`);
    assert.equal(e.path, path, argv.join(' '));
  }
});

test.run();
