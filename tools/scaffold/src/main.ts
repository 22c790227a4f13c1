import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scaffold } from './scaffold.ts';

const usage = 'Usage: npm run new-plugin -- NAME [--kind network|ipam] [--dir DIR]';
const args = process.argv.slice(2);
let name: string | undefined;
let kind: 'network' | 'ipam' = 'network';
let dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../plugins/drivers');
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--help' || a === '-h') {
    console.log(usage);
    process.exit(0);
  } else if (a === '--kind') {
    const v = args[++i];
    if (v !== 'network' && v !== 'ipam') {
      console.error(`Error: --kind must be "network" or "ipam", got ${JSON.stringify(v)}\n${usage}`);
      process.exit(2);
    }
    kind = v;
  } else if (a === '--dir') dir = path.resolve(args[++i] ?? '.');
  else if (a.startsWith('-')) {
    console.error(`Error: unknown flag ${a}\n${usage}`);
    process.exit(2);
  } else if (name === undefined) name = a;
  else {
    console.error(`Error: unexpected argument ${JSON.stringify(a)}\n${usage}`);
    process.exit(2);
  }
}
if (name === undefined) {
  console.error(`Error: a plugin name is required\n${usage}`);
  process.exit(2);
}
const r = scaffold({ name, kind, dir });
if (!r.ok) {
  console.error(`Error: ${r.error}`);
  process.exit(1);
}
console.log(`Created ${r.dir}:\n${r.files.map((f) => `  ${f}`).join('\n')}\nNext: npm install && (cd ${path.relative(process.cwd(), r.dir)} && npm test)`);
