/**
 * Service contracts: what plugins need from each other, in-process. A plugin provides a service
 * by naming it in `manifest.provides` and returning an implementation from `services[name]`; a
 * plugin that names it in `manifest.requires` reaches it as `ctx.services.get(name)`. Services are
 * singletons: two providers of one service fail at load.
 *
 * Hot-path members (DataPath frames, Cipher seal/open) work on Uint8Array with caller-supplied
 * buffers and return numbers, not fp-ts values.
 *
 * Each contract has a file of its own in `contracts/`; this file lists them for typed lookups.
 */
import type { BlockAllocators } from './contracts/blocks.ts';
import type { ClusterStoreBackend } from './contracts/cluster-store.ts';
import type { Cipher } from './contracts/cipher.ts';
import type { Containers } from './contracts/containers.ts';
import type { Control } from './contracts/control.ts';
import type { DataPath } from './contracts/datapath.ts';
import type { Dns } from './contracts/dns.ts';
import type { Engine } from './contracts/engine.ts';
import type { Membership } from './contracts/membership.ts';
import type { Ports } from './contracts/ports.ts';
import type { ServicesApi } from './contracts/services.ts';
import type { Store } from './contracts/store.ts';
import type { Tables } from './contracts/tables.ts';

/** Known services and their contracts, for typed `ctx.services.get()`. */
export interface ServiceMap {
  store: Store;
  membership: Membership;
  tables: Tables;
  /** What drivers use: one data path, or the dispatcher that picks one per network. */
  datapath: DataPath;
  /** The kernel's vxlan device and bridge per network (@weft/kernel-vxlan). */
  'datapath.kernel': DataPath;
  /** Weft's userspace switch (@weft/vxlan), the one that can encrypt. */
  'datapath.userspace': DataPath;
  cipher: Cipher;
  control: Control;
  dns: Dns;
  blocks: BlockAllocators;
  engine: Engine;
  ports: Ports;
  services: ServicesApi;
  /** Docker containers on Weft networks (@weft/docker). */
  containers: Containers;
  /** Cluster-store backends by URL scheme: `clusterStore.embedded`, `clusterStore.etcd`. */
  [backend: `clusterStore.${string}`]: ClusterStoreBackend;
}
