/**
 * What etcd (through etcd3 and gRPC) says, as the contract's WeftErrors. etcd's own errors are
 * matched on their text (`etcdserver: ...`, stable across 3.4–3.6: api/v3rpc/rpctypes); transport
 * failures on the gRPC status. Every message names the store (its endpoints) and says what to do.
 */
import { ClusterStoreCodes, errors, isWeftError, throwable, WeftException, type WeftError } from '@weft/kernel';
import { PLUGIN, type EtcdTarget } from './url.ts';

export type StoreError = WeftError & Error;

/** The operation in words, e.g. `put "weft/networks/x"`. */
export type What = string;

/** A gRPC or etcd3 error's text, with the code name gRPC put in front of it (`14 UNAVAILABLE: ...`). */
function text(e: unknown): string {
  if (e instanceof Error) {
    const details = (e as { details?: unknown }).details;
    return typeof details === 'string' && details !== '' && !e.message.includes(details) ? `${e.message} (${details})` : e.message;
  }
  return String(e);
}

/** gRPC status code when known (raw grpc-js errors carry it; etcd3's typed errors keep it only in the text). */
function grpcCode(e: unknown): number | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  if (typeof c === 'number') return c;
  const m = /^(\d+) [A-Z_]+:/.exec(text(e));
  return m === null ? undefined : Number(m[1]);
}

const TLS = /certificate|SSL|TLS|handshake|self[- ]signed|unable to verify|wrong version number|alert|ERR_SSL|CERT_/i;
const NO_QUORUM = /no leader|leader changed|proposal dropped|request timed out|not capable|too many requests|server stopped|etcdserver: stopped/i;
const UNREACHABLE = /No connection established|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ECONNRESET|getaddrinfo|Connection dropped|Failed to connect|connection closed|UNAVAILABLE|BrokenCircuit|circuit breaker is open|Channel closed/i;

/** The member could not be connected to (the request was never sent); a TLS failure is not worth another try. */
export function connectFailed(e: unknown): boolean {
  const t = text(e);
  return /No connection established|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|getaddrinfo|Failed to connect/i.test(t) && !TLS.test(t);
}

/** gRPC's "No connection established. Last error: X (time). Resolution note: ..." → X, without OpenSSL's source positions. */
function cause(t: string): string {
  let c = t.replace(/^\d+ [A-Z_]+: /, '');
  const last = /Last error: (.*?)(?: \(\d{4}-\d\d-\d\dT[^)]*\))?\.?\s*(?:Resolution note:.*)?$/s.exec(c);
  if (last !== null) c = last[1]!;
  c = c.replace(/^Error: /, '').trim();
  const alert = /alert ([a-z ]+?)(?::|\s*$)/i.exec(c);
  if (alert !== null) return `the member sent TLS alert "${alert[1]!.replace(/^sslv3 alert /, '')}"`;
  return c.replace(/\s+/g, ' ');
}

/** Every member was skipped by its circuit breaker (after refused connections). */
export function circuitOpen(e: unknown): boolean {
  return /BrokenCircuit|circuit breaker is open/i.test(text(e)) || (e as { name?: unknown } | null)?.name === 'BrokenCircuitError';
}

/** The member refused the request because it has no leader (etcd's `hasleader` check). */
export function noLeader(e: unknown): boolean {
  return /etcdserver: no leader/.test(text(e));
}

/** gRPC's deadline ran out (the request may still be applied later). */
export function deadlineHit(e: unknown): boolean {
  return grpcCode(e) === 4 || /DEADLINE_EXCEEDED|Deadline exceeded/i.test(text(e));
}

/** True when the request cannot have reached etcd's state machine, so another member may take it. */
export function notApplied(e: unknown): boolean {
  if (connectFailed(e) || circuitOpen(e)) return true;
  // etcd's interceptor refuses a `hasleader` request before proposing it when the member has no leader.
  return /etcdserver: no leader/.test(text(e));
}

/** A failure a read may simply be tried again after (nothing about the store's state is uncertain). */
export function transient(e: unknown): boolean {
  if (notApplied(e)) return true;
  const t = text(e);
  if (TLS.test(t) || /required revision|lease not found|duplicate key|too many operations|too large|permission denied|auth/i.test(t)) return false;
  // RST_STREAM / EPIPE: a connection to a member that just died (seen under Deno's http2), as ECONNRESET.
  return NO_QUORUM.test(t) || /Connection dropped|ECONNRESET|EPIPE|RST_STREAM|UNAVAILABLE|Channel closed|CANCELLED/i.test(t);
}

function unavailable(target: EtcdTarget, message: string, hint: string, value: unknown = target.display): StoreError {
  return throwable(errors.unavailable(PLUGIN, message, { code: ClusterStoreCodes.unavailable, value, hint }));
}

export function healthHint(target: EtcdTarget): string {
  const tls = target.tls ? ' --cacert CA --cert CERT --key KEY' : '';
  return `Check the members with: etcdctl --endpoints ${target.endpoints.join(',')}${tls} endpoint health. Writes resume by themselves once a majority of the members answer.`;
}

/** The request did not finish within the store's timeout. */
export function timedOut(target: EtcdTarget, what: What): StoreError {
  return unavailable(
    target,
    `The cluster store ${target.display} did not answer ${what} within ${target.timeoutMs} ms: no etcd member is reachable or the cluster has lost quorum (a majority of its members is down)`,
    healthHint(target),
  );
}

export function closedError(target: EtcdTarget): StoreError {
  return unavailable(target, `The cluster store ${target.display} is closed (this handle was closed; open the store again)`, 'Open the cluster store again.');
}

/** Maps anything a call to etcd threw to the contract's WeftError (an Error, so test runners and `await` treat it as one). */
export function storeError(e: unknown, target: EtcdTarget, what: What): StoreError {
  if (e instanceof WeftException) return throwable(e.error);
  if (isWeftError(e)) return e instanceof Error ? (e as StoreError) : throwable(e);
  const t = text(e);
  const code = grpcCode(e);
  const etcdSays = /etcdserver: ([^)\n]+)/.exec(t)?.[1]?.trim();
  if (/required revision has been compacted/.test(t)) {
    return throwable(errors.conflict(PLUGIN, `The cluster store ${target.display} has compacted the revision ${what} asked for`, { code: ClusterStoreCodes.compacted, hint: 'Read the current state with a range, then watch from its revision + 1.' }));
  }
  if (/required revision is a future revision/.test(t)) {
    return throwable(errors.badRequest(PLUGIN, `${what} asked the cluster store ${target.display} for a revision it has not reached yet`, { hint: 'Ask for a revision at most the store\'s current one (status().revision).' }));
  }
  if (/requested lease not found/.test(t)) {
    return throwable(errors.notFound(PLUGIN, `${what}: the lease does not exist in the cluster store ${target.display} (it expired or was revoked)`, { code: ClusterStoreCodes.leaseNotFound, hint: 'Grant a new lease and write the keys again.' }));
  }
  if (/duplicate key given in txn request/.test(t)) {
    return throwable(errors.badRequest(PLUGIN, `${what} was refused by etcd (${target.display}): a transaction may not write one key twice, nor put a key that a delete in the same transaction covers`, { hint: 'Split the transaction, or drop the put that the deletePrefix covers.' }));
  }
  if (/key is not provided/.test(t)) {
    return throwable(errors.badRequest(PLUGIN, `${what} names the empty key, which etcd (${target.display}) refuses ("key is not provided")`, { hint: 'Give every key at least one character.' }));
  }
  if (/too many operations in txn request/.test(t)) {
    return throwable(errors.badRequest(PLUGIN, `${what} has more operations than the etcd cluster ${target.display} allows in one transaction (etcd's --max-txn-ops, 128 by default)`, { hint: 'Write in several transactions, or raise --max-txn-ops on every etcd member.' }));
  }
  if (/request is too large|larger than max|RESOURCE_EXHAUSTED/i.test(t) && !/too many requests/.test(t)) {
    return throwable(errors.badRequest(PLUGIN, `${what} is larger than the etcd cluster ${target.display} accepts (etcd's --max-request-bytes, 1.5 MiB by default)`, { hint: 'Store smaller values.' }));
  }
  if (/lease TTL is too large/.test(t)) {
    return throwable(errors.badRequest(PLUGIN, `${what}: the lease TTL is larger than etcd allows (about 9 billion seconds)`, {}));
  }
  if (/permission denied|user name is empty|invalid auth token|authentication failed|auth: /i.test(t)) {
    return unavailable(target, `The cluster store ${target.display} refused ${what}: ${etcdSays ?? t} (it has authentication enabled)`, 'Weft authenticates to etcd with client certificates only: give --cluster-store-cert/--cluster-store-key of a user with read/write access to the weft/ keys, or use an etcd without user/password auth.');
  }
  if (TLS.test(t)) {
    return unavailable(
      target,
      `TLS with the cluster store ${target.display} failed during ${what}: ${cause(t)}`,
      /alert/i.test(t)
        ? 'The member refused this client: give --cluster-store-cert/--cluster-store-key, a client certificate signed by the CA etcd trusts (its --trusted-ca-file).'
        : 'Check --cluster-store-ca (the CA that signed the etcd members\' certificates, which must name the addresses in the URL), and --cluster-store-cert/--cluster-store-key when etcd requires client certificates; use etcds:// only when the members serve TLS.',
    );
  }
  if (deadlineHit(e)) return timedOut(target, what);
  if (NO_QUORUM.test(t)) {
    return unavailable(
      target,
      `The cluster store ${target.display} cannot serve ${what}: the etcd cluster has no leader${etcdSays !== undefined && etcdSays !== 'no leader' ? ` (${etcdSays})` : ''}; it has lost quorum, a majority of its members being down or cut off`,
      healthHint(target),
    );
  }
  if (code === 14 || code === 1 || UNREACHABLE.test(t)) {
    const plain = target.tls ? '' : ' If the members serve TLS, use etcds:// with --cluster-store-ca (and a client certificate when they require one).';
    const c = cause(t);
    if (/ECONNRESET|Connection dropped|connection closed|Channel closed/i.test(c)) {
      return unavailable(target, `The cluster store ${target.display} lost its connection to a member during ${what} (${c}): a write may or may not have been applied`, `Read the keys again before deciding; the next request goes to another member. ${healthHint(target)}`);
    }
    const notEtcd = /Protocol error/i.test(c) ? '; something answered that does not speak etcd\'s gRPC: is this an etcd client port (2379, not the peer port 2380)?' : '';
    return unavailable(target, `The cluster store ${target.display} is unreachable (${what}): no etcd member answered (${c})${notEtcd}`, `${healthHint(target)}${plain}`);
  }
  return unavailable(target, `The cluster store ${target.display} failed ${what}: ${etcdSays ?? t}`, healthHint(target));
}
