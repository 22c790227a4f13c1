/**
 * Scaffolds a new plugin package: `npm run new-plugin -- NAME [--kind network|ipam] [--dir DIR]`.
 *
 * The plugin is copied from `template/<kind>/` (a NetworkDriver or IpamDriver that keeps its state
 * in the kernel's store, and a test that runs the matching conformance suite), renaming the
 * template's names. The template is ordinary source of this package: it is typechecked and its
 * conformance test runs with this package's tests, so what the scaffold hands out compiles and passes.
 * Inside this repository the package uses the workspace's toolchain; anywhere else it is
 * stand-alone (its own tsconfig, tsx and uvu as devDependencies).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../../..');
const TEMPLATE = path.resolve(HERE, '../template');

export interface ScaffoldOptions {
  readonly name: string;
  readonly kind: 'network' | 'ipam';
  /** Parent directory; default `<repo>/plugins/drivers`. */
  readonly dir: string;
}

export type ScaffoldResult = { ok: true; dir: string; files: string[] } | { ok: false; error: string };

const NAME = /^[a-z][a-z0-9-]{1,40}$/;

export function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The names the template is written with, which the generator replaces. */
export const TEMPLATE_NAMES = {
  network: { name: 'template-network', fn: 'templateNetwork' },
  ipam: { name: 'template-ipam', fn: 'templateIpam' },
} as const;

function filesUnder(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...filesUnder(dir, r));
    else out.push(r);
  }
  return out.sort();
}

const inside = (parent: string, child: string) => {
  const r = path.relative(parent, child);
  return r === '' || (!r.startsWith('..') && !path.isAbsolute(r));
};

/** Versions of the toolchain this repository tests with, for stand-alone packages. */
function toolVersions(): Record<string, string> {
  const root = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  const want = ['tsx', 'uvu', 'typescript', '@types/node'];
  return Object.fromEntries(want.map((n) => [n, root.devDependencies[n] ?? '*']));
}

export function scaffold(o: ScaffoldOptions): ScaffoldResult {
  if (!NAME.test(o.name)) {
    return { ok: false, error: `Invalid plugin name ${JSON.stringify(o.name)}: use 2-41 lower-case letters, digits and "-", starting with a letter (e.g. "my-driver")` };
  }
  const dir = path.resolve(o.dir, o.name);
  if (fs.existsSync(dir)) return { ok: false, error: `${dir} already exists; choose another name or remove it first` };
  const from = TEMPLATE_NAMES[o.kind];
  const fn = camel(o.name);
  const rename = (text: string) => text.split(from.name).join(o.name).split(from.fn).join(fn);
  const src = path.join(TEMPLATE, o.kind);
  const files: Record<string, string> = {};
  for (const f of filesUnder(src)) files[f] = rename(fs.readFileSync(path.join(src, f), 'utf8'));
  const inRepo = inside(REPO, dir);
  const uvu = inRepo ? path.relative(dir, path.join(REPO, 'node_modules/uvu/bin.js')) : 'node_modules/uvu/bin.js';
  const base = JSON.parse(fs.readFileSync(path.join(REPO, 'tsconfig.base.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
  files['package.json'] = `${JSON.stringify(
    {
      name: `@weft/${o.name}`,
      version: '0.1.0',
      type: 'module',
      exports: { '.': './src/mod.ts' },
      scripts: {
        test: `node --import tsx ${uvu} src .test.ts$`,
        typecheck: 'tsc -p tsconfig.json',
        ...(inRepo ? { 'test-deno': 'deno run --allow-read --allow-env npm:uvu src .test.ts$', 'typecheck-deno': 'deno check src' } : {}),
      },
      dependencies: { '@weft/kernel': inRepo ? '*' : '^0.1.0', 'fp-ts': '2.16.11', 'io-ts': '2.2.22' },
      devDependencies: { '@weft/testing': inRepo ? '*' : '^0.1.0', ...(inRepo ? {} : toolVersions()) },
    },
    null,
    2,
  )}\n`;
  files['tsconfig.json'] = inRepo
    ? `{ "extends": "${path.relative(dir, path.join(REPO, 'tsconfig.base.json'))}", "include": ["src"] }\n`
    : `${JSON.stringify({ compilerOptions: base.compilerOptions, include: ['src'] }, null, 2)}\n`;
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  return { ok: true, dir, files: Object.keys(files).sort() };
}
