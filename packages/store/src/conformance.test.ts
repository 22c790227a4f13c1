import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { testStore } from '@weft/testing';
import { fileStore } from './mod.ts';

let dir = '';
testStore('fileStore', {
  create: () => fileStore((dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-store-conf-')))),
  reopen: () => fileStore(dir),
  cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
});
