/**
 * The registry resolves a set of plugins before anything runs: manifests are checked, kernel
 * ranges matched, dependencies found, providers de-duplicated and a start order computed. Every
 * failure is a coded WeftError, and all of them are reported at once.
 */
import { errors, KernelCodes, type WeftError } from './errors.ts';
import { decode } from './codecs.ts';
import { BuiltinContracts, type MethodSpec } from './methods.ts';
import { KERNEL_VERSION, type PluginDefinition } from './plugin.ts';
import { satisfies } from './semver.ts';

/** Contracts that may have several providers, told apart by plugin name. */
export const MultiProviderContracts: ReadonlySet<string> = new Set(['NetworkDriver', 'IpamDriver', 'guard']);

export interface LoadedPlugin {
  readonly def: PluginDefinition<any>;
  readonly config: unknown;
}

export interface Resolution {
  /** Plugins in start order (dependencies first). */
  readonly order: readonly LoadedPlugin[];
  /** Singleton service name → providing plugin. */
  readonly serviceProviders: ReadonlyMap<string, string>;
  /** Method name → spec, built-in and plugin-defined. */
  readonly methods: ReadonlyMap<string, MethodSpec<any, any>>;
}

export interface PluginEntry {
  readonly plugin: PluginDefinition<any>;
  readonly config?: unknown;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function resolvePlugins(
  entries: readonly PluginEntry[],
  kernelVersion: string = KERNEL_VERSION,
): { ok: true; value: Resolution } | { ok: false; errors: WeftError[] } {
  const errs: WeftError[] = [];
  const byName = new Map<string, LoadedPlugin>();
  const serviceProviders = new Map<string, string>();
  const methods = new Map<string, MethodSpec<any, any>>();
  for (const c of Object.values(BuiltinContracts)) for (const m of Object.values(c)) methods.set(m.name, m);

  for (const { plugin, config } of entries) {
    const m = plugin.manifest;
    const name = m?.name ?? '(unnamed)';
    if (typeof m?.name !== 'string' || !NAME.test(m.name)) {
      errs.push(errors.badRequest('kernel', `Plugin name ${JSON.stringify(m?.name)} is invalid: use lower-case letters, digits, ".", "_" or "-"`, { code: KernelCodes.badManifest, path: 'manifest.name', value: m?.name }));
      continue;
    }
    if (byName.has(name)) {
      errs.push(errors.conflict('kernel', `Plugin "${name}" is loaded twice; load each plugin once`, { code: KernelCodes.duplicatePlugin, value: name }));
      continue;
    }
    const ok = satisfies(kernelVersion, m.kernel);
    if (ok === undefined) {
      errs.push(errors.badRequest(name, `Kernel range ${JSON.stringify(m.kernel)} in the manifest is not a valid semver range`, { code: KernelCodes.badManifest, path: 'manifest.kernel', value: m.kernel }));
      continue;
    }
    if (!ok) {
      errs.push(errors.unsupported(name, `Plugin "${name}" ${m.version} needs kernel ${m.kernel}, but this kernel is ${kernelVersion}; install a version of the plugin built for kernel ${kernelVersion}`, { code: KernelCodes.incompatibleKernel, value: m.kernel }));
      continue;
    }
    let cfg: unknown = config;
    if (m.config !== undefined) {
      const d = decode(m.config, config ?? {});
      if (!d.ok) {
        errs.push(errors.badRequest(name, `Invalid configuration: ${d.failure.message}`, { code: KernelCodes.badConfig, path: d.failure.path, value: d.failure.value }));
        continue;
      }
      cfg = d.value;
    }
    // Required methods of built-in contracts must be present.
    for (const contract of m.provides) {
      const table = BuiltinContracts[contract];
      if (table === undefined) continue;
      const handlers = plugin.handlers?.[contract] as Record<string, unknown> | undefined;
      const missing = Object.values(table).filter((s) => s.required && typeof handlers?.[s.method] !== 'function').map((s) => s.method);
      if (missing.length > 0) {
        errs.push(errors.badRequest(name, `Plugin "${name}" provides ${contract} but lacks the required handlers ${missing.join(', ')}`, { code: KernelCodes.badManifest, path: `handlers.${contract}`, value: missing }));
      }
    }
    for (const spec of plugin.methods ?? []) {
      const existing = methods.get(spec.name);
      if (existing !== undefined && existing !== spec) {
        errs.push(errors.conflict(name, `Method "${spec.name}" is already defined; choose a contract name of your own`, { code: KernelCodes.duplicateProvider, value: spec.name }));
      } else methods.set(spec.name, spec);
    }
    for (const p of m.provides) {
      if (MultiProviderContracts.has(p) || BuiltinContracts[p] !== undefined) continue;
      if (plugin.methods?.some((s) => s.contract === p)) continue; // a plugin-defined contract
      const other = serviceProviders.get(p);
      if (other !== undefined) {
        errs.push(errors.conflict(name, `Service "${p}" is provided by both "${other}" and "${name}"; load only one of them`, { code: KernelCodes.duplicateProvider, value: p }));
        continue;
      }
      if (typeof plugin.services?.[p] !== 'function') {
        errs.push(errors.badRequest(name, `Plugin "${name}" declares that it provides "${p}" but has no services.${p} factory`, { code: KernelCodes.badManifest, path: `services.${p}`, value: p }));
        continue;
      }
      serviceProviders.set(p, name);
    }
    byName.set(name, { def: plugin, config: cfg });
  }

  // Dependencies.
  const deps = new Map<string, string[]>();
  for (const [name, lp] of byName) {
    const out: string[] = [];
    for (const r of lp.def.manifest.requires ?? []) {
      if (r.startsWith('plugin:')) {
        const target = r.slice('plugin:'.length);
        if (!byName.has(target)) {
          errs.push(errors.unavailable(name, `Plugin "${name}" requires plugin "${target}", which is not loaded; load it too`, { code: KernelCodes.missingDependency, value: r }));
        } else out.push(target);
        continue;
      }
      const provider = serviceProviders.get(r);
      if (provider === undefined) {
        errs.push(errors.unavailable(name, `Plugin "${name}" requires "${r}", which no loaded plugin provides; load a plugin that provides "${r}"`, { code: KernelCodes.missingDependency, value: r }));
      } else if (provider !== name) out.push(provider);
    }
    for (const r of lp.def.manifest.optional ?? []) {
      // `family.*` names every provider of a service family (e.g. `clusterStore.*`).
      const providers = r.endsWith('.*') ? [...serviceProviders].filter(([svc]) => svc.startsWith(r.slice(0, -1))).map(([, p]) => p) : [serviceProviders.get(r)];
      for (const provider of providers) if (provider !== undefined && provider !== name) out.push(provider);
    }
    deps.set(name, out);
  }
  if (errs.length > 0) return { ok: false, errors: errs };

  // Topological order (dependencies first), stable in load order.
  const order: LoadedPlugin[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (n: string, chain: string[]): boolean => {
    const s = state.get(n);
    if (s === 'done') return true;
    if (s === 'visiting') {
      errs.push(errors.badRequest('kernel', `Plugins depend on each other in a cycle: ${[...chain, n].join(' -> ')}`, { code: KernelCodes.dependencyCycle, value: [...chain, n] }));
      return false;
    }
    state.set(n, 'visiting');
    for (const d of deps.get(n) ?? []) if (!visit(d, [...chain, n])) return false;
    state.set(n, 'done');
    order.push(byName.get(n)!);
    return true;
  };
  for (const n of byName.keys()) if (!visit(n, [])) break;
  if (errs.length > 0) return { ok: false, errors: errs };
  return { ok: true, value: { order, serviceProviders, methods } };
}
