import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { testStore } from '@weft/testing';
import { fileStore, type FileStore } from './mod.ts';

let dir = '';
let current: FileStore | undefined;
testStore('fileStore', {
  create: () => (current = fileStore((dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-store-conf-'))))),
  // Closed and opened again: the journal (and snapshot) are read back from the disk.
  reopen: async () => {
    await current?.close();
    return (current = fileStore(dir));
  },
  cleanup: async () => {
    await current?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  },
});
