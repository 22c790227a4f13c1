/** A tiny sequential IPAM for gateway tests (the real one is @weft/ipam). IPv4 only. */
import { left } from 'fp-ts/lib/Either.js';
import { definePlugin, errors, getJson, putJson } from '@weft/kernel';

interface P { pool: string; used: number[]; refs: number }
const toInt = (s: string) => s.split('.').reduce((a, p) => a * 256 + Number(p), 0);
const toIp = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

export const fakeIpam = definePlugin({
  manifest: { name: 'fake-ipam', version: '0.0.1', kernel: '*', provides: ['IpamDriver'] },
  handlers: {
    IpamDriver: {
      GetCapabilities: () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }),
      GetDefaultAddressSpaces: () => ({ LocalDefaultAddressSpace: 'rdlocal', GlobalDefaultAddressSpace: 'rdglobal' }),
      RequestPool: async (r, ctx) => {
        const pool = r.Pool || '10.123.0.0/24';
        const id = `p-${pool}`;
        const cur = (await getJson<P>(ctx.store, id)) ?? { pool, used: [], refs: 0 };
        cur.refs++;
        await putJson(ctx.store, id, cur);
        return { PoolID: id, Pool: pool, Data: {} };
      },
      ReleasePool: async (r, ctx) => {
        const cur = await getJson<P>(ctx.store, r.PoolID);
        if (cur === undefined) return left(errors.notFound(ctx.plugin, `Pool "${r.PoolID}" not found`));
        if (--cur.refs === 0) await ctx.store.delete(r.PoolID);
        else await putJson(ctx.store, r.PoolID, cur);
        return {};
      },
      RequestAddress: async (r, ctx) => {
        const cur = await getJson<P>(ctx.store, r.PoolID);
        if (cur === undefined) return left(errors.notFound(ctx.plugin, `Pool "${r.PoolID}" not found`));
        const [base, len] = cur.pool.split('/');
        const start = toInt(base!);
        let off = r.Address ? toInt(r.Address) - start : 1;
        while (!r.Address && cur.used.includes(off)) off++;
        if (cur.used.includes(off)) return left(errors.conflict(ctx.plugin, `Address ${r.Address} is in use`));
        cur.used.push(off);
        await putJson(ctx.store, r.PoolID, cur);
        return { Address: `${toIp(start + off)}/${len}`, Data: {} };
      },
      ReleaseAddress: async (r, ctx) => {
        const cur = await getJson<P>(ctx.store, r.PoolID);
        if (cur === undefined) return left(errors.notFound(ctx.plugin, `Pool "${r.PoolID}" not found`));
        const off = toInt(r.Address.split('/')[0]!) - toInt(cur.pool.split('/')[0]!);
        const i = cur.used.indexOf(off);
        if (i < 0) return left(errors.notFound(ctx.plugin, `Address ${r.Address} is not allocated`));
        cur.used.splice(i, 1);
        await putJson(ctx.store, r.PoolID, cur);
        return {};
      },
    },
  },
});
