/**
 * Runs under Bun (started by build.ts): bundles one binary with `Bun.build({ compile })`.
 *
 *   bun src/compile.ts ENTRY OUTFILE
 *
 * A bundle puts every module in one chunk, so `import.meta.url` would be the chunk's URL in all
 * of them, and `new URL('./worker.ts', import.meta.url)` (how a plugin names the module a thread
 * or a child process loads) would point nowhere. So:
 *
 * 1. The workspace modules reachable from ENTRY are found by a first bundle that writes nothing
 *    (a plugin records each workspace file it loads), and each one's `new URL('./x', import.meta.url)`
 *    that names a script (.ts, .mjs, .js) becomes an extra entry point, repeated until closed:
 *    Bun embeds every entry point at `/$bunfs/root/<path from the repository root>`.
 * 2. In the real build every workspace module's `import.meta.url` is replaced by the URL of its
 *    own path in that embedded tree, so those `new URL(...)` land on the embedded copies, which
 *    Bun's `Worker` and `import()` resolve (`.ts` names included). `import.meta.main` is replaced
 *    by `false` in every module but ENTRY (they all share the chunk's `import.meta`).
 *
 * Native addons are left out (see ABSENT): the binary reaches libc and libsodium through bun:ffi.
 * The one a dependency cannot do without (lmdb, under the embedded cluster store) is embedded:
 * see `addons`.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

interface OnLoadArgs {
  readonly path: string;
}
interface PluginBuild {
  onResolve(o: { filter: RegExp }, cb: (a: OnLoadArgs) => { path: string; namespace: string } | undefined): void;
  onLoad(o: { filter: RegExp; namespace?: string }, cb: (a: OnLoadArgs) => { contents: string; loader: string } | undefined): void;
  onLoad(o: { filter: RegExp }, cb: (a: OnLoadArgs) => Promise<{ contents: string; loader: string } | undefined>): void;
}
interface BunBuildResult {
  readonly success: boolean;
  readonly logs: readonly unknown[];
  readonly outputs: readonly { readonly path: string }[];
}
interface BunApi {
  build(o: Record<string, unknown>): Promise<BunBuildResult>;
  file(p: string): { text(): Promise<string> };
}
const Bun = (globalThis as unknown as { Bun: BunApi }).Bun;

/**
 * Node addons and Node-only loaders, which the binary never uses: koffi (bun:ffi replaces it), tsx
 * and esbuild (TypeScript loaders for Node). A bundle hoists the static imports of lazily imported
 * modules, so each is replaced by a module that loads fine and throws, naming itself, only when used.
 */
const ABSENT = ['koffi', 'tsx', 'tsx/esm/api', 'esbuild'];
/**
 * Optional addons loaded by `require`/`import()` inside a try: left unresolved so that the
 * fallback runs (sodium-native: the cipher then uses the system's libsodium through FFI, else
 * WebAssembly; msgpackr-extract: msgpackr uses its pure-JS decoder).
 */
const EXTERNAL = ['sodium-native', 'msgpackr-extract'];
const ABSENT_FILTER = new RegExp(`^(${ABSENT.map((n) => n.replace(/[/.]/g, '\\$&')).join('|')})$`);
const absentModule = (name: string) => `const fail = () => { throw new Error(${JSON.stringify(`${name} is not part of the single-file binary`)}); };
export default new Proxy({}, { get: fail, apply: fail });
export const register = fail;`;
/** The folder of the package that holds `file` (nearest package.json with a name). */
function packageRoot(file: string): string {
  for (let d = path.dirname(file); d !== path.dirname(d); d = path.dirname(d)) {
    const p = path.join(d, 'package.json');
    if (fs.existsSync(p) && typeof (JSON.parse(fs.readFileSync(p, 'utf8')) as { name?: unknown }).name === 'string') return d;
  }
  throw new Error(`no package.json above ${file}`);
}

/**
 * Packages that find their N-API addon at run time with node-gyp-build (lmdb) would look inside
 * the binary's embedded tree and find nothing. The loader is replaced by a module that requires,
 * by literal path, the very file the loader picks for that package on this machine (Bun's choice:
 * the N-API build), which makes Bun embed it; the binary writes it to a temporary file and loads
 * it at start. Its own needs are the C and C++ runtimes every Debian system has.
 */
const ADDON_LOADER = /^node-gyp-build(-optional-packages)?$/;
const addons = {
  name: 'weft-addons',
  setup(b: PluginBuild) {
    b.onResolve({ filter: ADDON_LOADER }, (a) => ({ path: `${a.path}|${packageRoot((a as { importer?: string }).importer ?? '')}`, namespace: 'weft-addon' }));
    b.onLoad({ filter: /.*/, namespace: 'weft-addon' }, (a) => {
      const [loaderName, pkg] = a.path.split('|') as [string, string];
      const loader = createRequire(path.join(pkg, 'package.json'))(loaderName) as { path(dir: string): string };
      const file = loader.path(pkg);
      return { contents: `const addon = require(${JSON.stringify(file)});\nexport default function load() { return addon; }\n`, loader: 'js' };
    });
  },
};

/**
 * gRPC clients that read their .proto files at load time from their package folder (etcd3:
 * `loadSync(\`${__dirname}/../proto/rpc.proto\`, { keepCase: true, … })`) would look for them in
 * the binary's embedded tree. The .proto files are parsed here at build time, with the same
 * options, and the call becomes proto-loader's `fromJSON` of the parsed descriptor.
 */
const PROTO_LOAD = /\(0, (\w+)\.loadSync\)\(`\$\{__dirname\}\/([^`]+\.proto)`, (\{[^}]*\})\)/g;
const protos = {
  name: 'weft-protos',
  setup(b: PluginBuild) {
    b.onLoad({ filter: /node_modules\/.*\.js$/ }, async (a) => {
      const text = await Bun.file(a.path).text();
      if (!text.includes('.loadSync)(`${__dirname}/')) return undefined;
      const req = createRequire(a.path);
      const out = text.replace(PROTO_LOAD, (_m, loader: string, rel: string, opts: string) => {
        const protobuf = req('protobufjs') as { Root: new () => { loadSync(f: string, o: object): { resolveAll(): { toJSON(): unknown } } } };
        const keepCase = /keepCase:\s*true/.test(opts);
        const json = new protobuf.Root().loadSync(path.resolve(path.dirname(a.path), rel), { keepCase }).resolveAll().toJSON();
        return `(0, ${loader}.fromJSON)(${JSON.stringify(json)}, ${opts})`;
      });
      if (out.includes('.loadSync)(`${__dirname}/')) throw new Error(`${a.path}: a .proto file is loaded at run time in a way compile.ts does not rewrite`);
      return { contents: out, loader: 'js' };
    });
  },
};

const absent = {
  name: 'weft-absent',
  setup(b: PluginBuild) {
    b.onResolve({ filter: ABSENT_FILTER }, (a) => ({ path: a.path, namespace: 'weft-absent' }));
    b.onLoad({ filter: /.*/, namespace: 'weft-absent' }, (a) => ({ contents: absentModule(a.path), loader: 'js' }));
  },
};
const EMBED_ROOT = 'file:///$bunfs/root/';
const SCRIPT = /\.(ts|mjs|js)$/;
const URL_REF = /new URL\(\s*(['"])(\.{1,2}\/[^'"]+)\1\s*,\s*import\.meta\.url\s*\)/g;

const [entryArg, outArg, rootArg, ...flags] = process.argv.slice(2);
if (entryArg === undefined || outArg === undefined || rootArg === undefined) {
  process.stderr.write('usage: bun compile.ts ENTRY OUTFILE REPO_ROOT [--bytecode]\n');
  process.exit(2);
}
const root = path.resolve(rootArg);
const entry = path.resolve(entryArg);
const outfile = path.resolve(outArg);
const inWorkspace = (f: string) => f.startsWith(`${root}/`) && !f.includes('/node_modules/');

/** The workspace files one bundle of `entries` loads, and the scripts they name with `new URL(…, import.meta.url)`. */
async function scan(entries: readonly string[]): Promise<{ loaded: Set<string>; named: Set<string> }> {
  const loaded = new Set<string>();
  const named = new Set<string>();
  const r = await Bun.build({
    entrypoints: [...entries],
    target: 'bun',
    format: 'esm',
    external: EXTERNAL,
    throw: false,
    plugins: [
      absent,
      addons,
      protos,
      {
        name: 'weft-scan',
        setup(b: PluginBuild) {
          b.onLoad({ filter: SCRIPT }, async (a) => {
            if (!inWorkspace(a.path)) return undefined;
            loaded.add(a.path);
            const text = await Bun.file(a.path).text();
            for (const m of text.matchAll(URL_REF)) {
              const target = path.resolve(path.dirname(a.path), m[2] as string);
              if (SCRIPT.test(target) && inWorkspace(target) && fs.existsSync(target)) named.add(target); // (a doc comment may show the pattern)
            }
            return undefined;
          });
        },
      },
    ],
  });
  if (!r.success) throw new Error(`bundling ${entries.join(' ')} failed:\n${r.logs.map(String).join('\n')}`);
  return { loaded, named };
}

const entries = new Set([entry]);
for (;;) {
  const { named } = await scan([...entries]);
  const before = entries.size;
  for (const n of named) entries.add(n);
  if (entries.size === before) break;
}

const embeddedUrl = (f: string) => `${EMBED_ROOT}${path.relative(root, f).split(path.sep).join('/')}`;
const r = await Bun.build({
  entrypoints: [...entries],
  root,
  target: 'bun',
  format: 'esm',
  minify: true,
  // Bytecode caching starts a program faster, but breaks the exports of an extra entry point whose
  // graph has a top-level await (Bun 1.4.4: `import()` of @weft/sodium's worker module yields
  // undefined exports), so it is asked for per binary.
  bytecode: flags.includes('--bytecode'),
  sourcemap: 'none',
  external: EXTERNAL,
  throw: false,
  compile: { outfile },
  plugins: [
    absent,
    addons,
    protos,
    {
      name: 'weft-import-meta',
      setup(b: PluginBuild) {
        b.onLoad({ filter: SCRIPT }, async (a) => {
          if (!inWorkspace(a.path)) return undefined;
          let text = await Bun.file(a.path).text();
          if (!text.includes('import.meta.')) return undefined;
          text = text.replaceAll('import.meta.url', JSON.stringify(embeddedUrl(a.path)));
          if (a.path !== entry) text = text.replaceAll('import.meta.main', 'false');
          return { contents: text, loader: a.path.endsWith('.ts') ? 'ts' : 'js' };
        });
      },
    },
  ],
});
if (!r.success) {
  process.stderr.write(`bun build --compile of ${entry} failed:\n${r.logs.map(String).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify({ outfile, entries: [...entries].map((e) => path.relative(root, e)) })}\n`);
