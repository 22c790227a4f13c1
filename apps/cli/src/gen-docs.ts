/** Writes docs/cli.md (at the repository root) from the command table. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TABLE } from './commands.ts';
import { renderDocs } from './docs.ts';

export const DOCS_PATH = fileURLToPath(new URL('../../../docs/cli.md', import.meta.url));

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(DOCS_PATH, renderDocs(TABLE));
  console.log(`wrote ${DOCS_PATH}`);
}
