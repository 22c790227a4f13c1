import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseArgs } from './config.ts';
import { createLogger } from './log.ts';

test('defaults follow interface.md', () => {
  const r = parseArgs(['--node-name', 'h1', '--advertise-addr', '198.18.0.1']);
  assert.ok('ok' in r && r.ok);
  if (!('ok' in r) || !r.ok) return;
  assert.equal(
    { ...r.config },
    {
      socket: '/run/weft/weft.sock', stateDir: '/var/lib/weft', nodeName: 'h1', advertiseAddr: '198.18.0.1', listenAddr: '0.0.0.0', listenPort: 2377,
      gossipAddr: '198.18.0.1', gossipPort: 7946, dataPathAddr: '198.18.0.1', dataPathPort: 4789, dataPathPortUserspace: 4790, dataPlane: 'auto', dataPathLatency: 'low', cipher: 'chacha20', gossipJoin: [], gossipKeys: [], os: 'linux',
      dockerPlugin: '/run/docker/plugins/weft.sock', logLevel: 'info', logFormat: 'text', clusterStore: { URL: 'embedded:' }, metricsAddr: undefined, netnsPrefix: '',
    },
  );
});

test('repeatable flags, = syntax, off', () => {
  const key = Buffer.alloc(32, 7).toString('base64');
  const r = parseArgs(['--gossip-join=127.0.0.1:7946', '--gossip-join', '127.0.0.2', `--gossip-key=${key}`, '--docker-plugin', 'off', '--os', 'windows', '--data-path-port', '4790', '--data-path-latency=lean', '--cipher', 'aes-gcm']);
  assert.ok('ok' in r && r.ok);
  if (!('ok' in r) || !r.ok) return;
  assert.equal([...r.config.gossipJoin], ['127.0.0.1:7946', '127.0.0.2']);
  assert.is(r.config.dockerPlugin, undefined);
  assert.is(r.config.os, 'windows');
  assert.is(r.config.dataPathPort, 4790);
  assert.is(r.config.dataPathPortUserspace, 4791, 'the userspace switch takes the next port by default');
  assert.is(r.config.dataPlane, 'auto');
  assert.is(r.config.dataPathLatency, 'lean');
  assert.is(r.config.cipher, 'aes-gcm');
  const e = parseArgs(['--cluster-store', 'etcds://198.18.0.1:2379,198.18.0.2:2379', '--cluster-store-ca', 'ca.pem', '--cluster-store-cert', 'c.pem', '--cluster-store-key', 'k.pem']);
  assert.ok('ok' in e && e.ok);
  if ('ok' in e && e.ok) assert.equal(e.config.clusterStore, { URL: 'etcds://198.18.0.1:2379,198.18.0.2:2379', CA: 'ca.pem', Cert: 'c.pem', Key: 'k.pem' });
});

test('bad input names the flag and the value', () => {
  const bad: [string[], string][] = [
    [['--advertise-addr', '10.0.0.300'], '--advertise-addr "10.0.0.300"'],
    [['--data-path-port', '0'], '--data-path-port port "0"'],
    [['--data-path-latency', 'fast'], 'invalid --data-path-latency "fast": expected low or lean'],
    [['--data-plane', 'fast'], 'invalid --data-plane "fast": expected auto, kernel or userspace'],
    [['--data-path-port-userspace', '4789'], 'it must differ from --data-path-port'],
    [['--cipher', 'des'], 'invalid --cipher "des": expected chacha20 (libsodium) or aes-gcm (AES-256-GCM)'],
    [['--listen-addr', 'x:1'], 'invalid --listen-addr "x:1": invalid address "x:1"'],
    [['--advertise-addr', 'fd18::zz'], 'invalid --advertise-addr "fd18::zz": expected an IPv4 or IPv6 address'],
    [['--listen-addr', '[fd18::1]:0'], 'invalid --listen-addr port 0'],
    [['--metrics-addr', '[::1]'], 'invalid --metrics-addr "[::1]": expected IP:PORT'],
    [['--gossip-key', 'nope'], 'base64 of 16, 24 or 32 bytes'],
    [['--cluster-store', 'consul://x:8500'], 'invalid --cluster-store "consul://x:8500": expected "embedded:" or "etcd://HOST:2379[,HOST:2379...]"'],
    [['--cluster-store', 'etcd://198.18.0.1'], 'endpoint "198.18.0.1" is not HOST:PORT'],
    [['--cluster-store-cert', 'c.pem'], '--cluster-store-cert and --cluster-store-key go together'],
    [['--frobnicate'], 'unknown flag "--frobnicate"'],
    [['--socket'], 'flag --socket needs a value'],
    [['--os', 'plan9'], 'expected linux or windows'],
    [['--log-level', 'loud'], '--log-level "loud"'],
  ];
  for (const [args, want] of bad) {
    const r = parseArgs(args);
    assert.ok('ok' in r && !r.ok && r.error.includes(want), `${args.join(' ')} → ${JSON.stringify(r)}`);
  }
  assert.equal(parseArgs(['-h']), { help: true });
});

test('an IPv6 underlay: canonical addresses, [v6]:port, wildcards of the same family', () => {
  const r = parseArgs(['--node-name', 'h1', '--advertise-addr', 'FD18:0:1:0:0:0:0:1', '--metrics-addr', '[::1]:9323']);
  assert.ok('ok' in r && r.ok);
  if (!('ok' in r) || !r.ok) return;
  const c = r.config;
  assert.equal([c.advertiseAddr, c.listenAddr, c.listenPort, c.gossipAddr, c.gossipPort, c.dataPathAddr, c.metricsAddr], ['fd18:0:1::1', '::', 2377, 'fd18:0:1::1', 7946, 'fd18:0:1::1', { host: '::1', port: 9323 }]);
  const d = parseArgs(['--advertise-addr', '198.18.0.1', '--data-path-addr', 'fd18::1', '--listen-addr', '[fd18::1]:2400', '--gossip-addr', ':7950', '--gossip-join', '[fd18::2]:7946']);
  assert.ok('ok' in d && d.ok);
  if (!('ok' in d) || !d.ok) return;
  assert.equal([d.config.dataPathAddr, d.config.listenAddr, d.config.listenPort, d.config.gossipAddr, d.config.gossipPort], ['fd18::1', 'fd18::1', 2400, '0.0.0.0', 7950]);
});

test('logger: levels and formats', () => {
  const lines: string[] = [];
  const l = createLogger('info', 'json', (x) => lines.push(x), { node: 'h1' });
  l.debug('hidden');
  l.info('started', { port: 7946 });
  assert.is(lines.length, 1);
  const o = JSON.parse(lines[0]!);
  assert.equal([o.level, o.msg, o.port, o.node], ['info', 'started', 7946, 'h1']);
  const t: string[] = [];
  createLogger('debug', 'text', (x) => t.push(x)).warn('slow call', { method: 'NetworkDriver.Join', ms: 1200, note: 'a b' });
  assert.match(t[0]!, /WARN  slow call method=NetworkDriver.Join ms=1200 note="a b"$/);
});

test.run();
