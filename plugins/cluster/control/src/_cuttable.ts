/** Test and bench helper: a cluster-store handle that can be cut off, as a manager that crashed. */
import type { ClusterStore } from '@weft/kernel';

/**
 * After `cut()` every call through this handle stops working: it rejects (`'reject'`, a store that
 * refuses) or never settles (`'hang'`, a process that died: no renewal, no revoke). Watches made
 * before keep running; `close()` leaves the shared store open.
 */
export function cuttable(store: ClusterStore, mode: 'reject' | 'hang' = 'reject'): ClusterStore & { cut(): void } {
  let cut = false;
  const g = <T>(f: () => Promise<T>): Promise<T> => (!cut ? f() : mode === 'hang' ? new Promise<T>(() => {}) : Promise.reject(new Error('cut off')));
  return {
    get: (k) => g(() => store.get(k)),
    range: (p, o) => g(() => store.range(p, o)),
    put: (k, v, o) => g(() => store.put(k, v, o)),
    delete: (k) => g(() => store.delete(k)),
    txn: (r) => g(() => store.txn(r)),
    watch: (p, o) => store.watch(p, o),
    grantLease: (t) => g(() => store.grantLease(t)),
    keepAlive: (l) => g(() => store.keepAlive(l)),
    revokeLease: (l) => g(() => store.revokeLease(l)),
    compact: (r) => g(() => store.compact(r)),
    status: () => g(() => store.status()),
    close: async () => {},
    cut: () => void (cut = true),
  };
}
