/**
 * Shared conformance suite for the kernel `containers` contract: every provider (the Docker
 * plugin, and a third party's integration of another container engine) runs it:
 *
 *   testContainers('my-engine', () => myFixture());
 *
 * The fixture drives the provider the way its engine would: `attach` puts a container on a Weft
 * network (for Docker: CreateEndpoint + Join with a SandboxKey), `detach` takes it off (Leave +
 * DeleteEndpoint), `dropNamespace` makes its namespace vanish without telling the provider (the
 * container died), `restart` gives a new provider instance over the same durable state. The
 * fixture owns the namespaces (real ones, or files standing for them: the contract only promises
 * that `netnsPath` exists when listed).
 *
 * Depends only on the kernel contract and uvu.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ContainerSandbox, Containers } from '@weft/kernel';

export interface ContainersFixture {
  readonly containers: () => Containers;
  /** IDs of Weft networks the fixture can attach to (at least two). */
  readonly networks: readonly string[];
  /** Attaches container `name` to `network`; the same name again adds a network to the same container (same namespace). */
  attach(name: string, network: string): Promise<{ readonly id: string; readonly netnsPath: string }>;
  /** Detaches container `name` from `network` as its engine would. */
  detach(name: string, network: string): Promise<void>;
  /** Removes container `name`'s namespace behind the provider's back. */
  dropNamespace(name: string): Promise<void>;
  /** A new provider instance over the same state (optional: the restart test is skipped without it). */
  restart?(): Promise<void>;
  close(): Promise<void>;
}

export type ContainersFactory = () => Promise<ContainersFixture>;

const byName = (l: readonly ContainerSandbox[]) => new Map(l.map((c) => [c.netnsPath, c]));

export function testContainers(name: string, make: ContainersFactory): void {
  const s = suite(`containers conformance: ${name}`);

  const withFixture = (f: (x: ContainersFixture) => Promise<void>) => async () => {
    const x = await make();
    try {
      assert.ok(x.networks.length >= 2, 'the fixture offers at least two networks');
      await f(x);
    } finally {
      await x.close();
    }
  };

  s('nothing attached: an empty list', withFixture(async (x) => {
    assert.equal(await x.containers().list(), []);
  }));

  s('an attached container is listed once, with a stable id, a name, its namespace and the network', withFixture(async (x) => {
    const net = x.networks[0]!;
    const a = await x.attach('c1', net);
    const l = await x.containers().list();
    assert.is(l.length, 1);
    const c = l[0]!;
    assert.is(c.netnsPath, a.netnsPath);
    assert.ok(c.id !== '', 'an id');
    assert.ok(c.name !== '', 'a name (the container name, or its id)');
    assert.equal([...c.networks], [net]);
    assert.is((await x.containers().list())[0]!.id, c.id, 'the id is stable between calls');
  }));

  s('one container on two networks is one entry with both networks; two containers are two entries', withFixture(async (x) => {
    const [n1, n2] = [x.networks[0]!, x.networks[1]!];
    const a = await x.attach('c1', n1);
    await x.attach('c1', n2);
    const b = await x.attach('c2', n1);
    const m = byName(await x.containers().list());
    assert.is(m.size, 2);
    assert.equal([...m.get(a.netnsPath)!.networks].sort(), [n1, n2].sort());
    assert.equal([...m.get(b.netnsPath)!.networks], [n1]);
    const ids = [...m.values()].map((c) => c.id);
    assert.is(new Set(ids).size, 2, 'distinct ids');
  }));

  s('detached from one network: the other stays; detached from all: gone', withFixture(async (x) => {
    const [n1, n2] = [x.networks[0]!, x.networks[1]!];
    const a = await x.attach('c1', n1);
    await x.attach('c1', n2);
    await x.detach('c1', n1);
    assert.equal([...(byName(await x.containers().list()).get(a.netnsPath)?.networks ?? [])], [n2]);
    await x.detach('c1', n2);
    assert.equal(await x.containers().list(), []);
  }));

  s('a container whose namespace is gone is not listed (and listing does not fail)', withFixture(async (x) => {
    const net = x.networks[0]!;
    await x.attach('c1', net);
    const b = await x.attach('c2', net);
    await x.dropNamespace('c1');
    const l = await x.containers().list();
    assert.equal(l.map((c) => c.netnsPath), [b.netnsPath]);
  }));

  s('after a restart of the provider the same containers are listed with the same ids', withFixture(async (x) => {
    if (x.restart === undefined) return;
    const net = x.networks[0]!;
    await x.attach('c1', net);
    await x.attach('c2', net);
    const before = (await x.containers().list()).map((c) => `${c.id} ${c.netnsPath} ${[...c.networks].join(',')}`).sort();
    await x.restart();
    const after = (await x.containers().list()).map((c) => `${c.id} ${c.netnsPath} ${[...c.networks].join(',')}`).sort();
    assert.equal(after, before);
  }));

  s.run();
}
