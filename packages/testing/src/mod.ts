/** @weft/testing — conformance suites for plugin authors, and test helpers. */
export { kernelWith, ok, err } from './harness.ts';
export type { PluginFactory } from './harness.ts';
export { testNetworkDriver } from './network-driver.ts';
export type { NetworkDriverSuiteOptions } from './network-driver.ts';
export { testIpamDriver } from './ipam-driver.ts';
export type { IpamDriverSuiteOptions } from './ipam-driver.ts';
export { recordingDataPath, dataPathPlugin, memoryClusterStorePlugin, resetMemoryClusterStores } from './doubles.ts';
export type { RecordingDataPath } from './doubles.ts';
export { testStore, type StoreSuiteOptions } from './store.ts';
export { assertVtepFamilyRefused, connectPair, testDataPath, type PairEnd, type DataPathHosts, type DataPathInstance, type DataPathSuiteOptions } from './datapath.ts';
export { testCipher, testKey, testRing, totalDrops } from './cipher.ts';
export { tsFileCommand, tsModuleCommand } from './runtime.ts';
export type { CipherConformanceOptions, CipherFactory } from './cipher.ts';
export { testContainers, type ContainersFixture, type ContainersFactory } from './containers.ts';
export { testClusterStore, type ClusterStoreSuiteOptions } from './cluster-store.ts';
export { startEtcdCluster, etcdSkipReason, installedEtcd, makeTestCertificates } from './etcd.ts';
export type { EtcdCluster, EtcdClusterOptions, EtcdMember, EtcdPlace, EtcdClientTls } from './etcd.ts';
