import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { testClusterStore } from '@weft/testing';
import { openEmbeddedStore } from './mod.ts';

let dir = '';
testClusterStore('embedded (LMDB)', {
  create: () => openEmbeddedStore({ path: path.join((dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-store-embedded-conf-'))), 'cluster-store') }),
  reopen: () => openEmbeddedStore({ path: path.join(dir, 'cluster-store') }),
  cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
});
