/** `npm run check -w @weft/tool-boundaries [-- ROOT]`: prints every boundary violation of the tree. */
import { check, key, REPO_ROOT } from './boundaries.ts';

const root = process.argv[2] ?? REPO_ROOT;
const vs = await check(root);
for (const v of vs) console.log(`${key(v)}\n    ${v.message}`);
console.log(`${vs.length} violation${vs.length === 1 ? '' : 's'}`);
process.exitCode = vs.length === 0 ? 0 : 1;
