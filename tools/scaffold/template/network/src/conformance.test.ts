import { testNetworkDriver } from '@weft/testing';
import { templateNetwork } from './mod.ts';

testNetworkDriver('template-network', { plugin: () => templateNetwork() });
