import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Benchmarks of a checkout: each workspace package's `src/bench.ts`, by the package's folder name.
 * Reads both layouts (plugins/NAME, before the grouping, and plugins/GROUP/NAME), so a commit
 * from either side can be compared.
 */
export function findBenches(root: string): Map<string, string> {
  const list = (d: string): string[] => (fs.existsSync(d) ? fs.readdirSync(d).sort().map((n) => path.join(d, n)) : []);
  const dirs: string[] = [];
  for (const group of ['packages', 'apps']) dirs.push(...list(path.join(root, group)));
  for (const d of list(path.join(root, 'plugins'))) dirs.push(...(fs.existsSync(path.join(d, 'package.json')) ? [d] : list(d)));
  const out = new Map<string, string>();
  for (const dir of dirs) {
    const file = path.join(dir, 'src', 'bench.ts');
    if (fs.existsSync(file)) out.set(path.basename(dir), file);
  }
  return out;
}
