import { testIpamDriver } from '@weft/testing';
import { ipamPlugin } from './mod.ts';

testIpamDriver('ipam', { plugin: () => ipamPlugin() });
testIpamDriver('weft (named)', { plugin: () => ipamPlugin({ name: 'weft' }) });
