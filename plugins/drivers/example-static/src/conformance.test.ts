import { testNetworkDriver } from '@weft/testing';
import { exampleStatic } from './mod.ts';

testNetworkDriver('example-static', { plugin: () => exampleStatic() });
