import { testClusterStore } from '@weft/testing';
import { memoryClusterStore } from './cluster-store.ts';

testClusterStore('memoryClusterStore', { create: () => memoryClusterStore() });
