/** The real process I/O (`nodeIo`): child exit status, signals, missing programs. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { main, nodeIo } from './main.ts';
import { UserError } from './spec.ts';
import { fakeAgent } from './testutil.ts';

test('spawn: exit status passes through; a signal becomes 128+N', async () => {
  const io = nodeIo();
  assert.is(await io.spawn('sh', ['-c', 'exit 3']), 3);
  assert.is(await io.spawn('sh', ['-c', 'exit 0']), 0);
  assert.is(await io.spawn('sh', ['-c', 'kill -TERM $$']), 128 + 15);
});

test('spawn: a missing program is a user error that says what to install', async () => {
  try {
    await nodeIo().spawn('weft-no-such-program', []);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, UserError);
    assert.match((e as Error).message, 'weft-no-such-program not found: install it');
  }
});

const canNetns = (() => {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('exec (root): runs the command inside the namespace the agent names, with its exit status', async () => {
  if (!canNetns) {
    console.log('  skipped: needs root and iproute2');
    return;
  }
  const ns = `weft-cli-test-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const agent = await fakeAgent({ [`GET /sandboxes/${ns}`]: [200, { Name: ns, NetnsPath: `/run/netns/${ns}` }] });
  try {
    const host = readlinkSync('/proc/self/ns/net');
    let err = '';
    const io = { ...nodeIo(), err: (s: string) => void (err += s) };
    // Exit 5 only when the shell runs in a network namespace other than ours.
    const code = await main(['-H', agent.host, 'exec', ns, '--', 'sh', '-c', `[ "$(readlink /proc/self/ns/net)" != "${host}" ] && exit 5; exit 1`], io);
    assert.is(code, 5, err);
  } finally {
    await agent.close();
    execFileSync('ip', ['netns', 'delete', ns]);
  }
});

test.run();
