import { dataPathPlugin, recordingDataPath, testNetworkDriver } from '@weft/testing';
import { exampleStatic } from './mod.ts';

// Books only (no data path loaded), and with a data path (a recording double of the contract).
testNetworkDriver('example-static', { plugin: () => exampleStatic() });
testNetworkDriver('example-static with a data path', { plugin: () => exampleStatic(), extra: () => [{ plugin: dataPathPlugin(recordingDataPath()) }] });
