/**
 * A deliberately small semver matcher for plugin manifests' kernel ranges: exact `1.2.3`,
 * comparators `>=1.2.0 <2.0.0`, caret `^1.2.0`, tilde `~1.2.0`, wildcard `1.x` / `*`, and `||`.
 * Pre-release tags are compared as plain strings after the numeric triple (enough for ranges).
 */

export interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly pre: string;
}

const VERSION = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/;

export function parseVersion(s: string): Version | undefined {
  const m = VERSION.exec(s.trim());
  if (m === null) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ?? '' };
}

export function compareVersions(a: Version, b: Version): number {
  if (a.major !== b.major) return a.major - b.major;
  if (a.minor !== b.minor) return a.minor - b.minor;
  if (a.patch !== b.patch) return a.patch - b.patch;
  if (a.pre === b.pre) return 0;
  if (a.pre === '') return 1;
  if (b.pre === '') return -1;
  return a.pre < b.pre ? -1 : 1;
}

type Comparator = (v: Version) => boolean;

function partial(s: string): { major?: number; minor?: number; patch?: number } | undefined {
  const parts = s.replace(/^v/, '').split('.');
  if (parts.length === 0 || parts.length > 3) return undefined;
  const out: { major?: number; minor?: number; patch?: number } = {};
  const keys = ['major', 'minor', 'patch'] as const;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string;
    if (p === 'x' || p === 'X' || p === '*') break;
    if (!/^\d+$/.test(p)) return undefined;
    out[keys[i] as 'major'] = Number(p);
  }
  return out;
}

function v(major: number, minor: number, patch: number): Version {
  return { major, minor, patch, pre: '' };
}

function comparator(token: string): Comparator | undefined {
  const m = /^(\^|~|>=|<=|>|<|=)?(.+)$/.exec(token);
  if (m === null) return undefined;
  const op = m[1] ?? '';
  const body = m[2] as string;
  if (body === '*' || body === 'x' || body === 'X') return () => true;
  const p = partial(body);
  if (p === undefined || p.major === undefined) return undefined;
  const lo = v(p.major, p.minor ?? 0, p.patch ?? 0);
  const ge = (x: Version) => compareVersions(x, lo) >= 0;
  switch (op) {
    case '^': {
      const hi =
        lo.major > 0 ? v(lo.major + 1, 0, 0) : lo.minor > 0 || p.minor === undefined ? v(0, (p.minor === undefined ? 1 : lo.minor + 1), 0) : v(0, 0, lo.patch + 1);
      return (x) => ge(x) && compareVersions(x, hi) < 0;
    }
    case '~': {
      const hi = p.minor === undefined ? v(lo.major + 1, 0, 0) : v(lo.major, lo.minor + 1, 0);
      return (x) => ge(x) && compareVersions(x, hi) < 0;
    }
    case '>=':
      return ge;
    case '>':
      return (x) => compareVersions(x, lo) > 0;
    case '<=':
      return (x) => compareVersions(x, lo) <= 0;
    case '<':
      return (x) => compareVersions(x, lo) < 0;
    default: {
      if (p.minor === undefined) return (x) => x.major === lo.major;
      if (p.patch === undefined) return (x) => x.major === lo.major && x.minor === lo.minor;
      return (x) => compareVersions(x, lo) === 0;
    }
  }
}

/** Returns undefined when the range itself is malformed. */
export function satisfies(version: string, range: string): boolean | undefined {
  const ver = parseVersion(version);
  if (ver === undefined) return undefined;
  const alternatives = range.split('||').map((s) => s.trim());
  let any = false;
  for (const alt of alternatives) {
    const tokens = alt === '' ? ['*'] : alt.split(/\s+/);
    const comps: Comparator[] = [];
    for (const t of tokens) {
      const c = comparator(t);
      if (c === undefined) return undefined;
      comps.push(c);
    }
    if (comps.every((c) => c(ver))) any = true;
  }
  return any;
}
