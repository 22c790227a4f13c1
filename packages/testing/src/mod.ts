/** @weft/testing — conformance suites for plugin authors, and test helpers. */
export * from './harness.ts';
export * from './network-driver.ts';
export * from './ipam-driver.ts';
export * from './doubles.ts';
export { testStore, type StoreSuiteOptions } from './store.ts';
export { testDataPath, type DataPathHosts, type DataPathInstance, type DataPathSuiteOptions } from './datapath.ts';
export { testCipher, testKey, testRing, totalDrops } from './cipher.ts';
export type { CipherConformanceOptions, CipherFactory } from './cipher.ts';
