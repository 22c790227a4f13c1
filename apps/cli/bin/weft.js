#!/usr/bin/env node
// weft's start-up shim. The CLI is TypeScript source; running it through tsx's ESM hooks costs
// about 120 ms on Node 20 (the hooks run on a second thread) plus per-module transforms. Instead,
// the first run bundles src/main.ts with esbuild (tsx's own compiler) into .cache/, and later runs
// import that one file when every input file still has the mtime and size recorded for it.
// Any change to a source file, in this app or in a workspace package it imports, rebuilds the
// bundle on the next run. If bundling is impossible (no esbuild, read-only tree) or
// WEFT_CLI_NO_CACHE=1 is set, the shim falls back to tsx's loader. See README.md, "Start-up".
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const FORMAT = 1; // bump when the cache layout or build options change
const root = fileURLToPath(new URL('../', import.meta.url));
const cacheDir = `${root}.cache/`;
const entry = `${root}src/main.ts`;
const stamp = (file) => {
  const s = statSync(file);
  return `${s.mtimeMs}:${s.size}`;
};

function cached() {
  try {
    const m = JSON.parse(readFileSync(`${cacheDir}manifest.json`, 'utf8'));
    if (m.format !== FORMAT || m.node !== process.versions.node) return undefined;
    for (const [file, s] of Object.entries(m.inputs)) if (stamp(file) !== s) return undefined;
    return `${cacheDir}${m.bundle}`;
  } catch {
    return undefined;
  }
}

async function build() {
  const esbuild = await import('esbuild');
  const r = await esbuild.build({
    entryPoints: [entry],
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    write: false,
    metafile: true,
    outfile: `${cacheDir}bundle.mjs`,
    logLevel: 'silent',
    legalComments: 'none',
    // CommonJS dependencies (io-ts, fp-ts) may call require() for built-ins.
    banner: { js: "import { createRequire as __weftCreateRequire } from 'node:module'; const require = __weftCreateRequire(import.meta.url);" },
  });
  const out = r.outputFiles[0];
  const inputs = {};
  for (const p of [...Object.keys(r.metafile.inputs).map((i) => `${root}${i}`), `${root}package.json`]) {
    const abs = fileURLToPath(pathToFileURL(p));
    inputs[abs] = stamp(abs);
  }
  const name = `weft-${out.hash.replace(/[^A-Za-z0-9]/g, '')}.mjs`;
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${cacheDir}.tmp-${process.pid}`;
  writeFileSync(tmp, out.contents);
  renameSync(tmp, `${cacheDir}${name}`);
  writeFileSync(tmp, JSON.stringify({ format: FORMAT, node: process.versions.node, bundle: name, inputs }));
  renameSync(tmp, `${cacheDir}manifest.json`);
  // Old bundles are complete single files, so removing them cannot break a process that runs one.
  for (const f of readdirSync(cacheDir)) if (f.startsWith('weft-') && f !== name) rmSync(`${cacheDir}${f}`, { force: true });
  return `${cacheDir}${name}`;
}

let bundle = process.env.WEFT_CLI_NO_CACHE === '1' ? undefined : cached();
if (bundle === undefined && process.env.WEFT_CLI_NO_CACHE !== '1') bundle = await build().catch(() => undefined);
let mod;
if (bundle !== undefined) mod = await import(pathToFileURL(bundle).href);
else {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(pathToFileURL(entry).href);
}
await mod.cli();
