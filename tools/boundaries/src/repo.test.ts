/**
 * The repository's own boundaries (run in CI through `npm test`): no plugin's runtime code imports
 * another plugin, no plugin depends on one, no import cycles, no `export *`. See boundaries.ts for
 * the rules and what counts as runtime code.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { check, key, REPO_ROOT } from './boundaries.ts';

/**
 * Violations known when the check was introduced (issue #17), each removed by other work in the
 * same issue. This list may only shrink: the test fails on any violation not listed here, and on
 * any listed one that no longer exists (delete its line). Empty it, never add to it.
 */
const KNOWN: readonly string[] = [
  // Plugin → plugin imports (issue #17 item 1-4: helpers contracts, host, cipher, memberlist remove them).
  'plugin-import: plugins/cluster/control/src/blocks.ts -> @weft/ipam',
  'plugin-import: plugins/cluster/control/src/manager.ts -> @weft/sodium',
  'plugin-import: plugins/cluster/control/src/state.ts -> @weft/sodium',
  'plugin-import: plugins/cluster/services/src/ingress.ts -> @weft/engine',
  'plugin-import: plugins/cluster/services/src/plugin.ts -> @weft/engine',
  'plugin-import: plugins/datapath/vxlan/src/worker.ts -> @weft/sodium',
  'plugin-import: plugins/drivers/bridge/src/mod.ts -> @weft/overlay',
  'plugin-import: plugins/guards/windows-guard/src/mod.ts -> @weft/control',
  // The same edges declared in package.json dependencies.
  'plugin-dependency: plugins/cluster/control/package.json -> @weft/ipam',
  'plugin-dependency: plugins/cluster/control/package.json -> @weft/sodium',
  'plugin-dependency: plugins/cluster/services/package.json -> @weft/engine',
  'plugin-dependency: plugins/datapath/vxlan/package.json -> @weft/sodium',
  'plugin-dependency: plugins/drivers/bridge/package.json -> @weft/overlay',
  'plugin-dependency: plugins/guards/windows-guard/package.json -> @weft/control',
  // services ↔ ingress (helper host splits services/src/plugin.ts).
  'cycle: plugins/cluster/services/src/ingress.ts -> plugins/cluster/services/src/plugin.ts -> plugins/cluster/services/src/ingress.ts',
  // `export *` barrels in mod.ts files: the lead rewrites them to explicit lists at merge time.
  'export-star: apps/agent/src/mod.ts -> ./agent.ts',
  'export-star: apps/agent/src/mod.ts -> ./api.ts',
  'export-star: apps/agent/src/mod.ts -> ./config.ts',
  'export-star: apps/agent/src/mod.ts -> ./log.ts',
  'export-star: packages/api/src/mod.ts -> ./client.ts',
  'export-star: packages/api/src/mod.ts -> ./types.ts',
  'export-star: packages/net/src/mod.ts -> ./arp.ts',
  'export-star: packages/net/src/mod.ts -> ./checksum.ts',
  'export-star: packages/net/src/mod.ts -> ./cidr.ts',
  'export-star: packages/net/src/mod.ts -> ./crc32.ts',
  'export-star: packages/net/src/mod.ts -> ./dns.ts',
  'export-star: packages/net/src/mod.ts -> ./ethernet.ts',
  'export-star: packages/net/src/mod.ts -> ./icmp.ts',
  'export-star: packages/net/src/mod.ts -> ./ip.ts',
  'export-star: packages/net/src/mod.ts -> ./ipv4.ts',
  'export-star: packages/net/src/mod.ts -> ./ipv6.ts',
  'export-star: packages/net/src/mod.ts -> ./mac.ts',
  'export-star: packages/net/src/mod.ts -> ./result.ts',
  'export-star: packages/net/src/mod.ts -> ./udp.ts',
  'export-star: packages/net/src/mod.ts -> ./vxlan.ts',
  'export-star: packages/plugin-socket/src/mod.ts -> ./client.ts',
  'export-star: packages/plugin-socket/src/mod.ts -> ./server.ts',
  'export-star: packages/sys/src/mod.ts -> ./harness.ts',
  'export-star: packages/sys/src/mod.ts -> ./host.ts',
  'export-star: packages/sys/src/mod.ts -> ./ip.ts',
  'export-star: packages/sys/src/mod.ts -> ./netdev.ts',
  'export-star: packages/sys/src/mod.ts -> ./netns.ts',
  'export-star: packages/sys/src/mod.ts -> ./tun.ts',
  'export-star: packages/sys/src/mod.ts -> ./types.ts',
  'export-star: packages/sys/src/mod.ts -> ./udp.ts',
  'export-star: packages/testing/src/mod.ts -> ./doubles.ts',
  'export-star: packages/testing/src/mod.ts -> ./harness.ts',
  'export-star: packages/testing/src/mod.ts -> ./ipam-driver.ts',
  'export-star: packages/testing/src/mod.ts -> ./network-driver.ts',
  'export-star: plugins/cluster/control/src/mod.ts -> ./codecs.ts',
  'export-star: plugins/cluster/gossip/src/mod.ts -> ./plugin.ts',
  'export-star: plugins/cluster/gossip/src/mod.ts -> ./reconnect.ts',
  'export-star: plugins/cluster/gossip/src/mod.ts -> ./tables.ts',
  'export-star: plugins/cluster/services/src/mod.ts -> ./ingress.ts',
  'export-star: plugins/cluster/services/src/mod.ts -> ./placement.ts',
  'export-star: plugins/cluster/services/src/mod.ts -> ./plugin.ts',
  'export-star: plugins/cluster/services/src/mod.ts -> ./records.ts',
  'export-star: plugins/cluster/services/src/mod.ts -> ./routes.ts',
  'export-star: plugins/cluster/services/src/mod.ts -> ./stack.ts',
  'export-star: plugins/datapath/vxlan/src/mod.ts -> ./datapath.ts',
  'export-star: plugins/drivers/ipam/src/mod.ts -> ./addr.ts',
  'export-star: plugins/drivers/ipam/src/mod.ts -> ./bitmap.ts',
  'export-star: plugins/drivers/ipam/src/mod.ts -> ./blocks.ts',
  'export-star: plugins/drivers/ipam/src/mod.ts -> ./plugin.ts',
  'export-star: plugins/drivers/ipam/src/mod.ts -> ./pools.ts',
  'export-star: plugins/drivers/ipam/src/mod.ts -> ./record.ts',
  'export-star: plugins/drivers/ipam/src/mod.ts -> ./state.ts',
  'export-star: plugins/drivers/overlay/src/mod.ts -> ./driver.ts',
  'export-star: plugins/drivers/overlay/src/mod.ts -> ./options.ts',
  'export-star: plugins/host/docker/src/mod.ts -> ./agent.ts',
  'export-star: plugins/host/docker/src/mod.ts -> ./host.ts',
  'export-star: plugins/host/docker/src/mod.ts -> ./options.ts',
  'export-star: plugins/host/docker/src/mod.ts -> ./plugin.ts',
  'export-star: plugins/host/engine/src/mod.ts -> ./engine.ts',
  'export-star: plugins/host/engine/src/mod.ts -> ./host.ts',
  'export-star: plugins/host/engine/src/mod.ts -> ./plugin.ts',
  'export-star: plugins/host/engine/src/mod.ts -> ./ports.ts',
];

test('no boundary violation beyond the known ones, and every known one still exists', async () => {
  const found = await check(REPO_ROOT);
  const known = new Set(KNOWN);
  const fresh = found.filter((v) => !known.has(key(v)));
  const foundKeys = new Set(found.map(key));
  const gone = KNOWN.filter((k) => !foundKeys.has(k));
  const report = [
    ...fresh.map((v) => `NEW ${key(v)}\n    ${v.message}`),
    ...gone.map((k) => `FIXED (delete this line from KNOWN in tools/boundaries/src/repo.test.ts) ${k}`),
  ];
  if (report.length > 0) assert.unreachable(`${report.length} boundary problem${report.length === 1 ? '' : 's'}:\n${report.join('\n')}`);
  assert.is(new Set(KNOWN).size, KNOWN.length, 'KNOWN lists each violation once');
});

test.run();
