/**
 * Flag value readers. Each returns the value or an error sentence that quotes the bad text and
 * shows a good one; the parser turns the sentence into a usage error (exit 2).
 * No imports: this is on the start-up path.
 */
import type { KeyValue, PortMapSpec, PublishSpec } from './spec.ts';

export type Read<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };
const ok = <T>(value: T): Read<T> => ({ ok: true, value });
const bad = <T>(error: string): Read<T> => ({ ok: false, error });
const q = JSON.stringify;

export function readInt(s: string, min?: number, max?: number): Read<number> {
  if (!/^-?[0-9]+$/.test(s)) return bad(`${q(s)} is not a whole number`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) return bad(`${q(s)} is too large`);
  if (min !== undefined && n < min) return bad(`${n} is below the minimum ${min}`);
  if (max !== undefined && n > max) return bad(`${n} is above the maximum ${max}`);
  return ok(n);
}

const UNIT_NS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's `time.ParseDuration` grammar without a sign: `90s`, `30m`, `12h`, `1h30m`, `1.5h`, `0`. Returns milliseconds. */
export function parseDuration(s: string): Read<number> {
  const hint = 'use a number and a unit, such as 90s, 30m, 12h or 1h30m (units: ns, us, ms, s, m, h)';
  if (s === '0') return ok(0);
  if (s === '') return bad(`empty duration: ${hint}`);
  let rest = s;
  let ns = 0;
  while (rest !== '') {
    const m = /^([0-9]*(?:\.[0-9]*)?)([^0-9.]*)/.exec(rest);
    const num = m?.[1] ?? '';
    const unit = m?.[2] ?? '';
    if (num === '' || num === '.') return bad(`invalid duration ${q(s)}: ${hint}`);
    if (unit === '') return bad(`invalid duration ${q(s)}: missing unit after ${num}; ${hint}`);
    const f = UNIT_NS[unit];
    if (f === undefined) return bad(`invalid duration ${q(s)}: unknown unit ${q(unit)}; ${hint}`);
    ns += Number(num) * f;
    rest = rest.slice(num.length + unit.length);
  }
  return ok(ns / 1e6);
}

export function readKeyValue(s: string, valueRequired: boolean, what = 'KEY=VALUE'): Read<KeyValue> {
  const i = s.indexOf('=');
  if (i === 0) return bad(`${q(s)} has no key: use ${what}`);
  if (i < 0) return valueRequired ? bad(`${q(s)} is not ${what}`) : ok({ key: s, value: '' });
  return ok({ key: s.slice(0, i), value: s.slice(i + 1) });
}

function readPort(s: string, what: string): Read<number> {
  const n = readInt(s, 1, 65535);
  return n.ok ? n : bad(`invalid ${what} ${q(s)}: a port is a number 1-65535`);
}

function readProto(s: string): Read<'tcp' | 'udp'> {
  return s === 'tcp' || s === 'udp' ? ok(s) : bad(`invalid protocol ${q(s)}: use tcp or udp`);
}

/**
 * `--publish`: the long form `published=P,target=T[,protocol=tcp|udp][,mode=ingress|host]` or
 * the short form `[P:]T[/tcp|udp]` (Docker's `docker service create -p`).
 */
export function readPublish(s: string): Read<PublishSpec> {
  if (!s.includes('=')) {
    const [ports = '', proto = 'tcp', extra] = s.split('/');
    if (extra !== undefined) return bad(`invalid --publish ${q(s)}: use published=P,target=T or P:T[/udp]`);
    const pr = readProto(proto);
    if (!pr.ok) return pr;
    const parts = ports.split(':');
    if (parts.length > 2) return bad(`invalid --publish ${q(s)}: use published=P,target=T or P:T[/udp]`);
    const t = readPort(parts[parts.length - 1] ?? '', 'target port');
    if (!t.ok) return t;
    if (parts.length === 1) return ok({ target: t.value, protocol: pr.value, mode: 'ingress' });
    const p = readPort(parts[0] ?? '', 'published port');
    if (!p.ok) return p;
    return ok({ published: p.value, target: t.value, protocol: pr.value, mode: 'ingress' });
  }
  let published: number | undefined;
  let target: number | undefined;
  let protocol: 'tcp' | 'udp' = 'tcp';
  let mode: 'ingress' | 'host' = 'ingress';
  for (const field of s.split(',')) {
    const kv = readKeyValue(field, true, 'key=value');
    if (!kv.ok) return bad(`invalid --publish ${q(s)}: ${kv.error}`);
    const { key, value } = kv.value;
    if (key === 'published') {
      const p = readPort(value, 'published port');
      if (!p.ok) return p;
      published = p.value;
    } else if (key === 'target') {
      const p = readPort(value, 'target port');
      if (!p.ok) return p;
      target = p.value;
    } else if (key === 'protocol') {
      const p = readProto(value);
      if (!p.ok) return p;
      protocol = p.value;
    } else if (key === 'mode') {
      if (value !== 'ingress' && value !== 'host') return bad(`invalid publish mode ${q(value)}: use ingress or host`);
      mode = value;
    } else return bad(`invalid --publish ${q(s)}: unknown field ${q(key)} (fields: published, target, protocol, mode)`);
  }
  if (target === undefined) return bad(`invalid --publish ${q(s)}: target=PORT is required`);
  return ok(published === undefined ? { target, protocol, mode } : { published, target, protocol, mode });
}

/** `-p [HOST_IP:]HOST_PORT:PORT[/tcp|udp]`; an IPv6 host address goes in brackets: `[::1]:8080:80`. */
export function readPortMap(s: string): Read<PortMapSpec> {
  const usage = 'use [HOST_IP:]HOST_PORT:PORT[/tcp|udp], such as 8080:80, 127.0.0.1:5353:53/udp or [::]:8080:80';
  const slash = s.lastIndexOf('/');
  const proto = readProto(slash < 0 ? 'tcp' : s.slice(slash + 1));
  if (!proto.ok) return bad(`invalid -p ${q(s)}: ${proto.error}`);
  let body = slash < 0 ? s : s.slice(0, slash);
  let hostIp: string | undefined;
  if (body.startsWith('[')) {
    const end = body.indexOf(']:');
    if (end < 0) return bad(`invalid -p ${q(s)}: ${body.includes(']') ? 'the IPv6 host address in brackets must be followed by :HOST_PORT:PORT' : 'the IPv6 host address has no closing bracket'}; an IPv6 host address goes in brackets, such as [::]:8080:80 or [::1]:8080:80`);
    hostIp = body.slice(1, end);
    body = body.slice(end + 2);
  }
  const parts = body.split(':');
  if (hostIp === undefined && parts.length === 3) hostIp = parts.shift();
  if (parts.length !== 2) return bad(`invalid -p ${q(s)}: ${parts.length > 3 && hostIp === undefined ? 'an IPv6 host address goes in brackets ([::]:8080:80); ' : ''}${usage}`);
  const hp = readPort(parts[0] ?? '', 'host port');
  if (!hp.ok) return hp;
  const cp = readPort(parts[1] ?? '', 'sandbox port');
  if (!cp.ok) return cp;
  if (hostIp === '') return bad(`invalid -p ${q(s)}: empty host address; ${usage}`);
  const base = { hostPort: hp.value, port: cp.value, protocol: proto.value };
  return ok(hostIp === undefined ? base : { hostIp, ...base });
}

/** `IP:PORT` (IPv6 in brackets) — only the shape; the address itself is checked by `addr.ts`. */
export function splitHostPort(s: string): Read<{ host: string; port: number }> {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]+)$/.exec(s);
  const host = m?.[1] ?? m?.[2];
  if (m === null || host === undefined) return bad(`${q(s)} is not IP:PORT (such as 10.0.0.1:2377 or [fd00::1]:2377)`);
  const p = readPort(m[3] ?? '', 'port');
  return p.ok ? ok({ host, port: p.value }) : p;
}
