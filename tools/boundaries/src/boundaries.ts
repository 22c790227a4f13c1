/**
 * The repository's boundary rules, as a checker over the source tree (no TypeScript compiler:
 * es-module-lexer lexes the erasable TypeScript this repo is written in, type-only imports
 * included, and template literals that merely contain `import` text are not imports).
 *
 * Rules (each violation names the rule, the file and the import):
 * - `plugin-import`: a plugin's runtime code imports another plugin, by `@weft/<plugin>` or by a
 *   relative path into the other plugin's folder. Plugins meet only through kernel contracts.
 *   Runtime code is every `.ts` file under `plugins/<group>/<name>/src/` except tests and their
 *   helpers (see `isRuntimeFile`): those may load another plugin to build a fixture.
 * - `plugin-dependency`: a plugin's package.json `dependencies` names another plugin package
 *   (`devDependencies` may, for the same reason tests may import one).
 * - `cycle`: modules import each other in a loop (module graph of relative and `@weft/*`
 *   imports, type-only imports and statically known dynamic imports included).
 * - `export-star`: `export * from '…'` anywhere: public names are listed explicitly
 *   (`export * as ns from '…'` names what it exports and is allowed).
 * - `unresolved`: a relative or `@weft/*` import that names no file of the tree.
 * - `targets`: a package lacks one of the scripts that run it on both runtimes (`typecheck` and
 *   `typecheck-deno` always; `test` and `test-deno` when it has a `*.test.ts`), so `npm test`
 *   would skip it on Node or on Deno.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, parse } from 'es-module-lexer';

export type Rule = 'plugin-import' | 'plugin-dependency' | 'cycle' | 'export-star' | 'unresolved' | 'targets';

export interface Violation {
  readonly rule: Rule;
  /** Repository-relative path, `/`-separated. */
  readonly file: string;
  /** The import specifier, dependency name, or the cycle as `a.ts -> b.ts -> a.ts`. */
  readonly import: string;
  readonly message: string;
}

/** One line per violation, stable across runs: the key the known-violation list uses. */
export const key = (v: Violation): string => (v.rule === 'cycle' ? `cycle: ${v.import}` : `${v.rule}: ${v.file} -> ${v.import}`);

export interface Workspace {
  /** Package name, e.g. `@weft/vxlan`. */
  readonly name: string;
  /** Repository-relative folder, e.g. `plugins/datapath/vxlan`. */
  readonly dir: string;
  readonly isPlugin: boolean;
  readonly exports: Readonly<Record<string, string>>;
  readonly dependencies: readonly string[];
  /** Names of its package.json `scripts` (its nx targets). */
  readonly scripts: readonly string[];
}

export interface ImportEdge {
  readonly specifier: string;
  readonly typeOnly: boolean;
  /** Repository-relative target file, or undefined when external (npm, node:) or unresolved. */
  readonly target: string | undefined;
  readonly unresolved: boolean;
}

export interface SourceFile {
  readonly file: string;
  readonly imports: readonly ImportEdge[];
  readonly exportStars: readonly string[];
}

export interface Tree {
  readonly root: string;
  readonly workspaces: readonly Workspace[];
  readonly files: ReadonlyMap<string, SourceFile>;
}

/** The workspace globs of the root package.json (`packages/*`, `plugins/*\/*`, ...), expanded. */
function workspaceDirs(root: string): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { workspaces?: string[] };
  const out: string[] = [];
  for (const glob of pkg.workspaces ?? []) {
    let dirs = [''];
    for (const seg of glob.split('/')) {
      const next: string[] = [];
      for (const d of dirs) {
        if (seg !== '*') next.push(path.posix.join(d, seg));
        else {
          const abs = path.join(root, d);
          if (!fs.existsSync(abs)) continue;
          for (const e of fs.readdirSync(abs, { withFileTypes: true })) if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules') next.push(path.posix.join(d, e.name));
        }
      }
      dirs = next;
    }
    for (const d of dirs) if (fs.existsSync(path.join(root, d, 'package.json'))) out.push(d);
  }
  return out.sort();
}

function readWorkspace(root: string, dir: string): Workspace {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, dir, 'package.json'), 'utf8')) as {
    name?: string;
    exports?: string | Record<string, string>;
    dependencies?: Record<string, string>;
    scripts?: Record<string, string>;
  };
  const exp = pkg.exports === undefined ? {} : typeof pkg.exports === 'string' ? { '.': pkg.exports } : pkg.exports;
  return { name: pkg.name ?? dir, dir, isPlugin: dir.startsWith('plugins/'), exports: exp, dependencies: Object.keys(pkg.dependencies ?? {}), scripts: Object.keys(pkg.scripts ?? {}) };
}

/** Every `.ts` file of a workspace, skipping node_modules and dot folders (generated output). */
function sources(root: string, dir: string, out: string[]): string[] {
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) sources(root, rel, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Relative specifiers name files with their extension here; also accept a folder's mod.ts. */
function resolveFile(root: string, rel: string): string | undefined {
  for (const c of [rel, `${rel}.ts`, rel.endsWith('.js') ? `${rel.slice(0, -3)}.ts` : '', `${rel}/mod.ts`, `${rel}/index.ts`]) {
    if (c !== '' && fs.existsSync(path.join(root, c)) && fs.statSync(path.join(root, c)).isFile()) return c;
  }
  return undefined;
}

function resolveWeft(root: string, byName: ReadonlyMap<string, Workspace>, spec: string): { target: string | undefined; known: boolean } {
  const parts = spec.split('/');
  const name = parts.slice(0, 2).join('/');
  const ws = byName.get(name);
  if (ws === undefined) return { target: undefined, known: false };
  const sub = parts.length > 2 ? `./${parts.slice(2).join('/')}` : '.';
  const mapped = ws.exports[sub];
  if (mapped === undefined) return { target: undefined, known: true };
  return { target: resolveFile(root, path.posix.normalize(path.posix.join(ws.dir, mapped))), known: true };
}

/** Scans the tree under `root` (a folder with a package.json listing workspaces). */
export async function scan(root: string): Promise<Tree> {
  await init;
  const workspaces = workspaceDirs(root).map((d) => readWorkspace(root, d));
  const byName = new Map(workspaces.map((w) => [w.name, w]));
  const files = new Map<string, SourceFile>();
  for (const ws of workspaces) {
    for (const file of sources(root, ws.dir, []).sort()) {
      const src = fs.readFileSync(path.join(root, file), 'utf8');
      let parsed: ReturnType<typeof parse>;
      try {
        parsed = parse(src, file);
      } catch (e) {
        throw new Error(`Cannot lex ${file}: ${String(e)}`);
      }
      const [imps] = parsed;
      const imports: ImportEdge[] = [];
      const exportStars: string[] = [];
      for (const i of imps) {
        if (i.type === 'import-meta') continue;
        const spec = i.specifier;
        if (spec === undefined || (i.type === 'dynamic' && i.glob)) continue; // computed: not statically known
        if (i.type === 'reexport-star') {
          // `export * as ns from` is lexed as a re-export star too: tell them apart by the source.
          const stmt = src.slice(i.importStart, i.start);
          if (!/^export\s*\*\s*as\b/.test(stmt) && !/^export\s+type\s*\*\s*as\b/.test(stmt)) exportStars.push(spec);
        }
        const typeOnly = i.type === 'dynamic' ? i.probablyTypeOnly : i.typeOnly;
        if (spec.startsWith('.')) {
          const target = resolveFile(root, path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
          imports.push({ specifier: spec, typeOnly, target, unresolved: target === undefined });
        } else if (spec.startsWith('@weft/')) {
          const r = resolveWeft(root, byName, spec);
          imports.push({ specifier: spec, typeOnly, target: r.target, unresolved: r.target === undefined });
        } else imports.push({ specifier: spec, typeOnly, target: undefined, unresolved: false });
      }
      files.set(file, { file, imports, exportStars });
    }
  }
  return { root, workspaces, files };
}

/**
 * Tests, test helpers and benchmarks may load other plugins to build fixtures; everything else
 * under `src/` is runtime code. Test-only files: `*.test.ts`, `testutil.ts`, names starting with
 * `_` (the repository's test-helper convention: `_fakes.ts`, `_testutil.ts`), anything under a
 * `testdata/` folder, and `bench.ts`.
 */
export function isRuntimeFile(file: string): boolean {
  const base = path.posix.basename(file);
  if (!/^src\//.test(file) || /(^|\/)testdata\//.test(file)) return false;
  return !(base.endsWith('.test.ts') || base === 'testutil.ts' || base.startsWith('_') || base === 'bench.ts');
}

function owner(workspaces: readonly Workspace[], file: string): Workspace | undefined {
  return workspaces.find((w) => file.startsWith(`${w.dir}/`));
}

export function pluginImports(tree: Tree): Violation[] {
  const out: Violation[] = [];
  for (const f of tree.files.values()) {
    const own = owner(tree.workspaces, f.file);
    if (own === undefined || !own.isPlugin || !isRuntimeFile(f.file.slice(own.dir.length + 1))) continue;
    for (const i of f.imports) {
      if (i.target === undefined) continue;
      const other = owner(tree.workspaces, i.target);
      if (other === undefined || !other.isPlugin || other === own) continue;
      out.push({
        rule: 'plugin-import',
        file: f.file,
        import: i.specifier,
        message: `${f.file} (plugin ${own.name}) imports ${JSON.stringify(i.specifier)}, which is plugin ${other.name} (${i.target}): plugins meet only through kernel contracts (ctx.services)`,
      });
    }
  }
  return out;
}

export function pluginDependencies(tree: Tree): Violation[] {
  const plugins = new Map(tree.workspaces.filter((w) => w.isPlugin).map((w) => [w.name, w]));
  const out: Violation[] = [];
  for (const w of plugins.values()) {
    for (const d of w.dependencies) {
      if (d === w.name || !plugins.has(d)) continue;
      out.push({
        rule: 'plugin-dependency',
        file: `${w.dir}/package.json`,
        import: d,
        message: `${w.dir}/package.json lists plugin ${d} in "dependencies": a plugin may depend on packages, never on another plugin (a test-only use belongs in devDependencies)`,
      });
    }
  }
  return out;
}

export function exportStars(tree: Tree): Violation[] {
  const out: Violation[] = [];
  for (const f of tree.files.values()) {
    for (const s of f.exportStars) {
      out.push({ rule: 'export-star', file: f.file, import: s, message: `${f.file} has \`export * from ${JSON.stringify(s)}\`: list the public names explicitly` });
    }
  }
  return out;
}

export function unresolved(tree: Tree): Violation[] {
  const out: Violation[] = [];
  for (const f of tree.files.values()) {
    for (const i of f.imports) {
      if (i.unresolved) out.push({ rule: 'unresolved', file: f.file, import: i.specifier, message: `${f.file} imports ${JSON.stringify(i.specifier)}, which names no file of the tree` });
    }
  }
  return out;
}

/**
 * Import cycles: one violation per strongly connected component of the module graph, showing the
 * shortest cycle through its first file (in sorted order), so the report is stable.
 */
export function cycles(tree: Tree): Violation[] {
  const adj = new Map<string, string[]>();
  for (const f of tree.files.values()) {
    adj.set(f.file, [...new Set(f.imports.flatMap((i) => (i.target !== undefined && tree.files.has(i.target) ? [i.target] : [])))].sort());
  }
  // Tarjan's algorithm, iterative (deep graphs must not overflow the stack).
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const sccs: string[][] = [];
  let next = 0;
  for (const start of [...adj.keys()].sort()) {
    if (index.has(start)) continue;
    const work: Array<{ v: string; i: number }> = [{ v: start, i: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const succ = adj.get(top.v) ?? [];
      if (top.i < succ.length) {
        const w = succ[top.i++]!;
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push({ v: w, i: 0 });
        } else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]!.v;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.v)!));
      }
      if (low.get(top.v) === index.get(top.v)) {
        const comp: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          comp.push(w);
        } while (w !== top.v);
        if (comp.length > 1 || (adj.get(top.v) ?? []).includes(top.v)) sccs.push(comp.sort());
      }
    }
  }
  const out: Violation[] = [];
  for (const comp of sccs) {
    const members = new Set(comp);
    const first = comp[0]!;
    // Shortest path first -> ... -> first inside the component (BFS over sorted successors).
    const prev = new Map<string, string>();
    const queue = [first];
    let found = false;
    while (queue.length > 0 && !found) {
      const v = queue.shift()!;
      for (const w of adj.get(v) ?? []) {
        if (!members.has(w)) continue;
        if (w === first) {
          prev.set(first, v);
          found = true;
          break;
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    const pathBack = [first];
    for (let v = prev.get(first)!; v !== first; v = prev.get(v)!) pathBack.push(v);
    const loop = [first, ...pathBack.slice(1).reverse(), first];
    const via = loop.slice(0, -1).map((f, i) => {
      const to = loop[i + 1]!;
      const spec = tree.files.get(f)!.imports.find((x) => x.target === to)!.specifier;
      return `${f} imports ${JSON.stringify(spec)}`;
    });
    out.push({
      rule: 'cycle',
      file: first,
      import: loop.join(' -> '),
      message: `Import cycle of ${comp.length} module${comp.length === 1 ? '' : 's'}: ${via.join(', ')}${comp.length > loop.length - 1 ? ` (the cycle's component also holds ${comp.filter((c) => !loop.includes(c)).join(', ')})` : ''}`,
    });
  }
  return out;
}

/**
 * The nx targets (package.json scripts) `npm test` runs in every package: `typecheck` and
 * `typecheck-deno` always, `test` and `test-deno` in a package with tests, so each package is
 * checked and tested on Node (tsx) and on Deno. See docs/deno.md for the commands a package uses.
 */
export const REQUIRED_TARGETS = ['typecheck', 'typecheck-deno'] as const;
export const REQUIRED_TEST_TARGETS = ['test', 'test-deno'] as const;

export function missingTargets(tree: Tree): Violation[] {
  const out: Violation[] = [];
  for (const ws of tree.workspaces) {
    const hasTests = [...tree.files.keys()].some((f) => f.startsWith(`${ws.dir}/`) && f.endsWith('.test.ts'));
    for (const t of [...REQUIRED_TARGETS, ...(hasTests ? REQUIRED_TEST_TARGETS : [])]) {
      if (ws.scripts.includes(t)) continue;
      out.push({
        rule: 'targets',
        file: `${ws.dir}/package.json`,
        import: t,
        message: `${ws.name} has no "${t}" script: every package is type-checked, and tested when it has tests, on Node and on Deno (add the scripts listed in docs/deno.md)`,
      });
    }
  }
  return out;
}

/** Every rule over the tree, sorted by key. */
export async function check(root: string): Promise<Violation[]> {
  const tree = await scan(root);
  return [...pluginImports(tree), ...pluginDependencies(tree), ...cycles(tree), ...exportStars(tree), ...unresolved(tree), ...missingTargets(tree)].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The repository this tool lives in. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
