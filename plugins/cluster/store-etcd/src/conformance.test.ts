/**
 * testClusterStore against real etcd clusters: one member, and three (requests spread over the
 * members). Each test gets the cluster wiped (every lease revoked, every key deleted); revisions
 * keep counting up, which the suite allows. Skipped with a message when etcd is not installed.
 */
import { test } from 'uvu';
import etcd3 from 'etcd3';
import type { ClusterStore } from '@weft/kernel';
import { etcdSkipReason, startEtcdCluster, testClusterStore, type EtcdCluster } from '@weft/testing';
import { openEtcdStore } from './store.ts';

async function wipe(c: EtcdCluster): Promise<void> {
  const admin = new etcd3.Etcd3({ hosts: c.endpoints.map((e) => `http://${e}`) });
  try {
    const { leases } = await admin.leaseClient.leaseLeases();
    for (const l of leases) await admin.leaseClient.leaseRevoke({ ID: l.ID });
    await admin.delete().all();
  } finally {
    admin.close();
  }
}

const skip = etcdSkipReason();
if (skip !== undefined) {
  test('ClusterStore conformance on etcd (skipped)', () => console.log(`  skipped: ${skip}`));
  test.run();
} else {
  for (const members of [1, 3] as const) {
    const cluster = await startEtcdCluster({ members, tag: `conf${members}` });
    const opened: ClusterStore[] = [];
    testClusterStore(`etcd, ${members} member${members > 1 ? 's' : ''}`, {
      create: async () => {
        await wipe(cluster);
        const s = await openEtcdStore({ url: cluster.url });
        opened.push(s);
        return s;
      },
      cleanup: async () => {
        for (const s of opened.splice(0)) await s.close();
      },
      leaseTtlSeconds: 1,
      slow: true,
    });
  }
}
