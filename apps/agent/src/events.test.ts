/** The event log: kernel topics → Docker-shaped events, filters, --since/--until, bad queries. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKernel } from '@weft/kernel';
import { createEventLog, eventJson, parseEventQuery, streamEvents, type WeftEvent } from './events.ts';

const member = (name: string) => ({ name, addr: '198.18.0.2', port: 7946, state: 'dead' as const, incarnation: 1, meta: { weft: '1' } });

test('kernel topics become Docker-shaped events, in order, with exact increasing timeNano', async () => {
  const k = createKernel();
  let t = 1_700_000_000_000;
  const log = createEventLog(k, { now: () => t });
  k.publish('engine.network', { action: 'create', id: 'n1', name: 'web', driver: 'overlay', scope: 'swarm' });
  k.publish('engine.attach', { action: 'attach', sandbox: 'a', network: 'n1', networkName: 'web', endpoint: 'e1', address: '10.0.0.2/24', durationMs: 12.34 });
  k.publish('membership', { type: 'dead', member: member('h2') });
  k.publish('control.keyring', { rotation: 3, epochs: [3, 4, 5], gossip: { keys: [new Uint8Array(32).fill(7)], epochs: [4] } });
  k.publish('services.service', { action: 'create', id: 's1', name: 'api', replicas: 2 });
  await k.events.drain();
  const all = log.history(0n, undefined, {});
  assert.equal(all.map((e) => `${e.Type} ${e.Action}`), ['network create', 'sandbox attach', 'node down', 'key rotate', 'service create']);
  assert.equal(all[1]!.Actor.Attributes, { name: 'a', network: 'web', networkID: 'n1', endpoint: 'e1', address: '10.0.0.2/24', durationMs: '12.3' });
  assert.is(all[3]!.Actor.Attributes.primary, '4', 'the primary key is the middle one');
  for (let i = 1; i < all.length; i++) assert.ok(all[i]!.timeNano > all[i - 1]!.timeNano, 'strictly increasing even within one millisecond');
  assert.match(eventJson(all[0]!), /"timeNano":1700000000000000000[,}]/, 'timeNano is exact in the JSON');
  t += 5000;
  assert.equal(log.history(undefined, undefined, { type: ['node', 'key'] }).map((e) => e.Type), ['node', 'key']);
  assert.equal(log.history(undefined, undefined, { network: ['web'] }).map((e) => e.Action), ['create', 'attach'], 'network=NAME matches the network and the attach to it');
  assert.equal(log.history(undefined, undefined, { type: ['sandbox'], event: ['detach'] }), []);
  log.close();
});

test('queries: Docker timestamps and filters, clear errors for anything else', () => {
  const ok = parseEventQuery(new URLSearchParams({ since: '1700000000.5', filters: '{"type":{"network":true},"event":["create"]}' }));
  assert.equal(ok, { since: 1_700_000_000_500_000_000n, filters: { type: ['network'], event: ['create'] } });
  assert.match(parseEventQuery(new URLSearchParams({ since: 'yesterday' })) as string, /invalid since "yesterday": expected seconds since the epoch/);
  assert.match(parseEventQuery(new URLSearchParams({ filters: '{"colour":["red"]}' })) as string, /invalid filter "colour": expected one of type, event/);
  assert.match(parseEventQuery(new URLSearchParams({ filters: '{"type":["container"]}' })) as string, /invalid filter type="container": expected one of network, endpoint/);
  assert.match(parseEventQuery(new URLSearchParams({ filters: '[' })) as string, /filters is not JSON/);
  assert.match(parseEventQuery(new URLSearchParams({ since: '20', until: '10' })) as string, /until is before since/);
  assert.match(parseEventQuery(new URLSearchParams({ colour: 'x' })) as string, /unknown query parameter "colour"/);
});

test('stream: history from --since, then live events; --until in the past ends at once, in the future ends then', async () => {
  const k = createKernel();
  const log = createEventLog(k);
  const e0 = log.record('network', 'create', 'n0', { name: 'old' });
  const out: string[] = [];
  let ended = 0;
  const sink = { write: (s: string) => void out.push(s), end: () => void ended++, onClose: () => {} };
  streamEvents(log, { since: e0.timeNano, until: e0.timeNano, filters: {} }, sink);
  assert.is(ended, 1, 'until already passed: the stream ends after the history');
  assert.is(out.length, 1);
  out.length = 0;
  const until = BigInt(Date.now() + 300) * 1_000_000n;
  streamEvents(log, { until, filters: { type: ['node'] } }, sink);
  log.record('network', 'create', 'n1', {});
  log.record('node', 'down', 'h2', {});
  await new Promise((r) => setTimeout(r, 400));
  assert.is(ended, 2, 'the stream ended at --until');
  assert.equal(out.map((l) => (JSON.parse(l) as WeftEvent).Action), ['down'], 'only what the filter lets through, nothing before the stream began');
  streamEvents(log, { filters: {} }, sink);
  log.close();
  assert.is(ended, 3, 'closing the log ends open streams (the agent is stopping)');
});

test.run();
