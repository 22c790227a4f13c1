import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isRight } from 'fp-ts/lib/Either.js';
import { createKernel } from '@weft/kernel';
import { parseArgs } from './config.ts';
import { plugins } from './agent.ts';

const cfg = (...extra: string[]) => {
  const r = parseArgs(['--node-name', 'h1', '--advertise-addr', '198.18.0.1', ...extra]);
  if (!('ok' in r) || !r.ok) throw new Error(JSON.stringify(r));
  return r.config;
};

test('--cipher picks the cipher plugin the agent loads: chacha20 (default) → sodium, aes-gcm → aes-gcm; exactly one cipher', async () => {
  for (const [args, name, backend] of [[[], 'sodium', /sodium/], [['--cipher', 'chacha20'], 'sodium', /sodium/], [['--cipher', 'aes-gcm'], 'aes-gcm', /^node:crypto$/]] as const) {
    const entries = plugins(cfg(...args));
    const ciphers = entries.filter((e) => e.plugin.manifest.provides.includes('cipher'));
    assert.equal(ciphers.map((e) => e.plugin.manifest.name), [name], `${args.join(' ') || 'default'}`);
    // The chosen plugin really starts and provides the service the data path uses.
    const k = createKernel();
    assert.ok(isRight(await k.load([ciphers[0]!])));
    const c = k.service('cipher')!;
    assert.match(c.backend, backend);
    assert.ok(c.worker !== undefined && typeof c.onKeyRing === 'function', 'usable by the threaded data path');
    await k.stop();
  }
});

test.run();
