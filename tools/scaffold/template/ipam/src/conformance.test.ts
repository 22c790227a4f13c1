import { testIpamDriver } from '@weft/testing';
import { templateIpam } from './mod.ts';

testIpamDriver('template-ipam', { plugin: () => templateIpam(), predefinedPools: false, ipv6: false });
