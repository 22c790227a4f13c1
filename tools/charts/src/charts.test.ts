/** The committed charts are what the data renders to, and bad data is refused by name. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CHARTS, renderAll } from './charts.ts';

const dir = fileURLToPath(new URL('../../../docs/charts/', import.meta.url));

test('every chart renders from docs/charts/data.json, and the committed SVGs are current (else: npm run charts)', async () => {
  const data = JSON.parse(fs.readFileSync(`${dir}data.json`, 'utf8'));
  const all = await renderAll(data);
  assert.equal(all.map(([n]) => n).sort(), Object.keys(CHARTS).sort());
  for (const [name, svg] of all) {
    assert.ok(svg.startsWith('<svg'), name);
    assert.is(fs.readFileSync(`${dir}${name}.svg`, 'utf8'), svg, `docs/charts/${name}.svg is stale: run "npm run charts"`);
  }
});

test('a missing series is an error naming the chart and the series', async () => {
  try {
    await renderAll({});
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /chart "datapath-stages" needs the series "datapathStages"/);
  }
});

test.run();
