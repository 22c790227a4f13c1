import { testStore } from '@weft/testing';
import { memoryStore } from './store.ts';

// A reopened memory store is a new instance over the same Map: what the agent's restart of a
// kernel over a shared map (tests, the docker plugin's fakes) relies on.
let backing = new Map<string, Uint8Array>();
testStore('memoryStore', {
  create: () => memoryStore((backing = new Map())),
  reopen: () => memoryStore(backing),
});
