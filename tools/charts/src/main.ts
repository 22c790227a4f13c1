/**
 * `npm run charts`: renders the SVG charts of docs/benchmarks.md and docs/reliability.md from the
 * figures in docs/charts/data.json (or another file: `npm run charts -- FILE`), with Vega-Lite
 * compiled to Vega and rendered headless to SVG (no browser, no canvas). The SVGs are committed
 * under docs/charts/; rerun after changing the data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderAll } from './charts.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const file = process.argv[2] ?? path.join(root, 'docs/charts/data.json');
let data: unknown;
try {
  data = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (e) {
  console.error(`Error: cannot read the chart data ${file}: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(2);
}
const out = path.join(root, 'docs/charts');
for (const [name, svg] of await renderAll(data as Parameters<typeof renderAll>[0])) {
  fs.writeFileSync(path.join(out, `${name}.svg`), svg);
  console.log(`wrote docs/charts/${name}.svg (${svg.length} bytes)`);
}
