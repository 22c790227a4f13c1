import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { scaffold } from './scaffold.ts';

// Generated inside the repo so that '@weft/kernel' resolves through the workspace node_modules.
const here = path.dirname(fileURLToPath(import.meta.url));
const tmp = path.join(here, '..', `.gen-${process.pid}`);

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('rejects bad names and existing directories with a clear error', () => {
  const r = scaffold({ name: 'Bad Name', kind: 'network', dir: tmp });
  assert.ok(!r.ok && r.error.includes('"Bad Name"'));
  fs.mkdirSync(path.join(tmp, 'taken'), { recursive: true });
  const r2 = scaffold({ name: 'taken', kind: 'network', dir: tmp });
  assert.ok(!r2.ok && r2.error.includes('already exists'));
});

test('generates a network driver and an IPAM driver that pass their conformance suites', async () => {
  for (const kind of ['network', 'ipam'] as const) {
    const r = scaffold({ name: `gen-${kind}`, kind, dir: tmp });
    assert.ok(r.ok, JSON.stringify(r));
    if (!r.ok) return;
    assert.equal(r.files.sort(), ['README.md', 'package.json', 'src/conformance.test.ts', 'src/mod.ts', 'tsconfig.json']);
    const pkg = JSON.parse(fs.readFileSync(path.join(r.dir, 'package.json'), 'utf8'));
    assert.is(pkg.name, `@weft/gen-${kind}`);
  }
  const { testNetworkDriver, testIpamDriver } = await import('@weft/testing');
  const net = await import(pathToFileURL(path.join(tmp, 'gen-network/src/mod.ts')).href);
  const ipam = await import(pathToFileURL(path.join(tmp, 'gen-ipam/src/mod.ts')).href);
  testNetworkDriver('scaffolded network driver', { plugin: () => net.genNetwork() });
  testIpamDriver('scaffolded ipam driver', { plugin: () => ipam.genIpam(), predefinedPools: false, ipv6: false });
});

test.run();
