/**
 * `--cluster-store` URLs for etcd: `etcd://HOST[:PORT][,HOST[:PORT]...]`, `etcds://` for TLS.
 * Hosts are IPv4 addresses, names or `[IPv6]`; the port defaults to 2379 (etcd's client port).
 * The same shape as Docker's pre-swarm `--cluster-store etcd://...`, without a key path: a Weft
 * swarm owns the keys under `weft/` of its etcd.
 */
import * as fs from 'node:fs';
import { ClusterStoreCodes, errors, throwable, type WeftError } from '@weft/kernel';

export const PLUGIN = 'store-etcd';
export const DEFAULT_PORT = 2379;
export const DEFAULT_TIMEOUT_MS = 5000;

export interface EtcdTarget {
  /** `host:port` per member, as given (IPv6 in brackets). */
  readonly endpoints: readonly string[];
  readonly tls: boolean;
  /** The URL normalised, for messages and `status().endpoint`: `etcd://h1:2379,h2:2379`. */
  readonly display: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly timeoutMs: number;
}

export interface EtcdTargetOptions {
  readonly url: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly timeoutMs?: number;
}

const EXAMPLE = 'etcd://198.18.0.1:2379,198.18.0.2:2379,198.18.0.3:2379 (etcds://... for TLS)';

function bad(message: string, value: unknown, hint = `Give the etcd members' client URLs as ${EXAMPLE}.`): WeftError & Error {
  return throwable(errors.badRequest(PLUGIN, message, { code: ClusterStoreCodes.badConfig, value, hint }));
}

const HOST = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?))(?::(\d+))?$/;

/** Parses and checks a cluster-store URL and its TLS files; throws a `BadRequest` WeftError naming what is wrong. */
export function parseEtcdTarget(o: EtcdTargetOptions): EtcdTarget {
  const url = o.url;
  if (typeof url !== 'string' || url.trim() === '') throw bad('The etcd cluster store URL is empty', url);
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(url.trim());
  if (m === null) throw bad(`Cluster store URL ${JSON.stringify(url)} is not an etcd URL (it needs etcd:// or etcds:// and the members' host:port list)`, url);
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'etcd' && scheme !== 'etcds') {
    throw bad(`Cluster store URL ${JSON.stringify(url)} has scheme ${JSON.stringify(scheme + '://')}; the etcd backend opens etcd:// and etcds://`, url, scheme === 'http' || scheme === 'https' ? `Write ${scheme === 'https' ? 'etcds' : 'etcd'}://HOST:2379,... instead of ${scheme}://.` : undefined);
  }
  let rest = m[2]!;
  if (/[?#]/.test(rest)) throw bad(`Cluster store URL ${JSON.stringify(url)} has a query or fragment; the etcd backend takes only the members' host:port list`, url);
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (rest.includes('/')) throw bad(`Cluster store URL ${JSON.stringify(url)} has a path; key prefixes are not supported (the swarm keeps its keys under weft/)`, url);
  if (rest.includes('@')) throw bad(`Cluster store URL ${JSON.stringify(url)} has user credentials; etcd user/password authentication is not supported, use client certificates (--cluster-store-cert/--cluster-store-key)`, url);
  const parts = rest.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.every((p) => p === '')) throw bad(`Cluster store URL ${JSON.stringify(url)} names no etcd member`, url);
  const endpoints: string[] = [];
  for (const p of parts) {
    if (p === '') throw bad(`Cluster store URL ${JSON.stringify(url)} has an empty member between commas`, url);
    const h = HOST.exec(p);
    if (h === null) throw bad(`Member ${JSON.stringify(p)} in cluster store URL ${JSON.stringify(url)} is not HOST[:PORT]`, p);
    const port = h[3] === undefined ? DEFAULT_PORT : Number(h[3]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`Member ${JSON.stringify(p)} in cluster store URL ${JSON.stringify(url)} has port ${h[3]}, not 1-65535`, p);
    const ep = h[1] !== undefined ? `[${h[1]}]:${port}` : `${h[2]}:${port}`;
    if (!endpoints.includes(ep)) endpoints.push(ep);
  }
  if ((o.cert === undefined) !== (o.key === undefined)) {
    throw bad(`A client certificate needs its key and a key its certificate (got ${o.cert !== undefined ? 'a certificate without a key' : 'a key without a certificate'})`, o.cert ?? o.key, 'Give both --cluster-store-cert and --cluster-store-key, or neither.');
  }
  const read = (what: string, file: string | undefined): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      const b = fs.readFileSync(file);
      if (!b.toString('latin1').includes('-----BEGIN')) throw new Error('not a PEM file (no -----BEGIN line)');
      return b;
    } catch (e) {
      throw bad(`Cannot use ${what} ${JSON.stringify(file)} for the cluster store: ${(e as Error).message}`, file, `Give a readable PEM file (etcdctl's --${what === 'CA file' ? 'cacert' : what === 'client certificate' ? 'cert' : 'key'}).`);
    }
  };
  const ca = read('CA file', o.ca);
  const cert = read('client certificate', o.cert);
  const key = read('client key', o.key);
  const tls = scheme === 'etcds' || ca !== undefined || cert !== undefined;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw bad(`The cluster store timeout must be a positive number of milliseconds (got ${timeoutMs})`, timeoutMs, 'Leave it out for the default of 5000 ms.');
  return {
    endpoints,
    tls,
    display: `${tls ? 'etcds' : 'etcd'}://${endpoints.join(',')}`,
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    timeoutMs,
  };
}
