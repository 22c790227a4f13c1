import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createEventBus, createKernel, definePlugin, type EventMap } from './mod.ts';

// A plugin's own topic, added the way a third-party plugin adds it (declaration merging on the
// interface the package exports).
declare module './mod.ts' {
  interface EventMap {
    'example.ping': { readonly n: number };
  }
}

test('a topic added by declaration merging is typed for publish, subscribe and events handlers', async () => {
  const seen: number[] = [];
  const p = definePlugin({
    manifest: { name: 'pinger', version: '1.0.0', kernel: '*', provides: [] },
    events: { 'example.ping': (e) => void seen.push(e.n) },
  });
  const k = createKernel();
  await k.load([{ plugin: p }]);
  const off = k.events.subscribe('example.ping', (e) => void seen.push(e.n * 10));
  k.publish('example.ping', { n: 2 });
  await k.events.drain();
  off();
  k.publish('example.ping', { n: 3 });
  await k.events.drain();
  assert.equal(seen.sort((a, b) => a - b), [2, 3, 20]);
  await k.stop();
});

test('unknown topics and wrong payloads are type errors', () => {
  const bus = createEventBus(() => {});
  // @ts-expect-error: no such topic in EventMap
  bus.publish('no.such.topic', {});
  // @ts-expect-error: a membership event is not a number
  bus.publish('membership', 1);
  const ping: EventMap['example.ping'] = { n: 1 };
  bus.publish('example.ping', ping);
  definePlugin({
    manifest: { name: 'x', version: '1.0.0', kernel: '*', provides: [] },
    // @ts-expect-error: no such topic in EventMap
    events: { 'no.such.topic': () => {} },
  });
});

test.run();
