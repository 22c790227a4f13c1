/**
 * Scale, short versions (root): 1,000 bare endpoints on one host, every name resolved and 20
 * random ones pinged from a sandbox on another host, no endpoint device left after; 10 agents forming one
 * swarm. The long runs (10,000 endpoints, 50 agents) are `npm run soak`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { agentScale, endpointScale } from '@weft/testing/scale';

const root = process.getuid?.() === 0;
const tag = `sc${process.pid % 1000}`;
const MiB = 2 ** 20;

if (!root) {
  test('scale (skipped: needs root for network namespaces and TAP devices)', () => console.log('  skipped: run as root to include the scale tests'));
} else {
  test('1,000 bare endpoints on one host: every name resolves from another host, 20 random ones answer ping, no endpoint device left', async () => {
    const r = await endpointScale({ endpoints: 1000, sample: 20, subnet: 62, tag: `${tag}e` });
    assert.is(r.dataplane, 'kernel', 'a plaintext network takes the kernel path where the kernel has vxlan');
    console.log(`  1000 endpoints (${r.dataplane} path): attach ${r.attachSeconds.toFixed(1)} s, RSS +${(r.rssPerEndpoint / 1024).toFixed(1)} KiB/endpoint, resolve ${r.resolveSeconds.toFixed(1)} s, teardown ${r.teardownSeconds.toFixed(1)} s`);
    assert.ok(r.remoteEntries >= 1001, `the other host's table holds ${r.remoteEntries} of 1001`);
    assert.equal(r.resolveWrong, [], 'every name resolves to the address it was given');
    assert.is(r.resolved, 1000);
    assert.equal(r.pingFailed, [], 'every sampled endpoint answers ping');
    assert.is(r.pinged, 20);
    assert.is(r.removed, 20);
    assert.is(r.removedLeftovers, 0, 'an endpoint removed through the API takes its device with it');
    assert.is(r.leftoverTaps, 0, 'every endpoint device (TAP or veth) went away');
    // Memory must stay far from what 10,000 endpoints could not afford (1 MiB each would be 10 GB).
    assert.ok(r.rssPerEndpoint < MiB, `${(r.rssPerEndpoint / 1024).toFixed(0)} KiB RSS per endpoint`);
  });

  test('10 agents form one swarm: every agent lists 10 alive, and still does after a steady 5 s', async () => {
    const r = await agentScale({ agents: 10, steadySeconds: 5, subnet: 63, tag: `${tag}a` });
    console.log(`  10 agents: converged ${r.convergeSeconds.toFixed(1)} s after the last join, RSS ${(r.rssMean / MiB).toFixed(0)} MiB, CPU ${r.cpuMean.toFixed(2)} s / 5 s each`);
    assert.is(r.stillConverged, 10);
    assert.ok(r.convergeSeconds < 60, `converged in ${r.convergeSeconds} s`);
  });
}

test.run();
