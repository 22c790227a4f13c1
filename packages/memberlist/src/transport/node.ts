/**
 * Real transport over node:dgram + node:net: UDP and TCP on the same port, replies from
 * the listening UDP socket, incremental TCP framing (one message per direction per
 * connection), 20 MiB cap, timeouts. Garbage never throws: it is counted and dropped.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { MAX_STREAM_SIZE } from '../wire/types.ts';
import { streamFrameLength } from '../wire/stream.ts';
import type { PacketHandler, StreamHandler, Transport } from '../swim/types.ts';

export interface NodeTransportOptions {
  readonly bindAddr: string;
  /** 0 = pick a free port (same number for UDP and TCP). Default 7946. */
  readonly bindPort?: number;
  readonly maxStreamSize?: number;
  /** Timeout for inbound streams (ms). */
  readonly streamTimeout?: number;
  readonly log?: (line: string) => void;
}

export interface NodeTransport extends Transport {
  readonly stats: { udpErrors: number; tcpErrors: number; drops: Record<string, number> };
}

class Buf {
  data = new Uint8Array(4096);
  len = 0;
  append(chunk: Uint8Array): void {
    if (this.len + chunk.length > this.data.length) {
      let size = this.data.length * 2;
      while (size < this.len + chunk.length) size *= 2;
      const nb = new Uint8Array(size);
      nb.set(this.data.subarray(0, this.len));
      this.data = nb;
    }
    this.data.set(chunk, this.len);
    this.len += chunk.length;
  }
  view(): Uint8Array {
    return this.data.subarray(0, this.len);
  }
}

export function createNodeTransport(o: NodeTransportOptions): NodeTransport {
  const maxSize = o.maxStreamSize ?? MAX_STREAM_SIZE;
  const streamTimeout = o.streamTimeout ?? 10_000;
  const stats = { udpErrors: 0, tcpErrors: 0, drops: {} as Record<string, number> };
  const drop = (r: string) => (stats.drops[r] = (stats.drops[r] ?? 0) + 1);
  const log = o.log ?? (() => {});
  const v6 = o.bindAddr.includes(':');
  let udp: dgram.Socket | undefined;
  let tcp: net.Server | undefined;
  const conns = new Set<net.Socket>();
  let closed = false;

  /** Read exactly one framed message from a socket. */
  function readOne(sock: net.Socket, timeoutMs: number, cb: (err: Error | undefined, msg?: Uint8Array) => void): void {
    const buf = new Buf();
    let done = false;
    const finish = (e: Error | undefined, m?: Uint8Array) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onErr);
      cb(e, m);
    };
    const timer = setTimeout(() => finish(new Error('i/o timeout')), timeoutMs);
    const onData = (chunk: Buffer) => {
      buf.append(chunk);
      if (buf.len > maxSize + 5) return finish(new Error('stream too large'));
      const f = streamFrameLength(buf.view(), maxSize);
      if (!f.ok) return finish(new Error(f.error));
      if (f.value > 0) finish(undefined, buf.view().slice(0, f.value));
    };
    const onEnd = () => finish(new Error('EOF'));
    const onErr = (e: Error) => finish(e);
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('error', onErr);
  }

  return {
    stats,
    async start(onPacket: PacketHandler, onStream: StreamHandler) {
      const wantPort = o.bindPort ?? 7946;
      for (let attempt = 0; ; attempt++) {
        try {
          const server = net.createServer({ allowHalfOpen: true }, (sock) => {
            conns.add(sock);
            sock.on('close', () => conns.delete(sock));
            sock.on('error', () => {
              stats.tcpErrors++;
            });
            readOne(sock, streamTimeout, (e, msg) => {
              if (e !== undefined || msg === undefined) {
                drop('tcp-read');
                log(`stream read: ${e?.message ?? 'no message'}`);
                sock.destroy();
                return;
              }
              onStream(msg, `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? 0}`).then(
                (reply) => {
                  if (reply !== undefined && !sock.destroyed) sock.end(reply);
                  else sock.end();
                  setTimeout(() => sock.destroy(), streamTimeout).unref();
                },
                (err: unknown) => {
                  drop('stream-handler');
                  log(`stream handler: ${String(err)}`);
                  sock.destroy();
                },
              );
            });
          });
          server.on('error', (e) => {
            stats.tcpErrors++;
            log(`tcp server error: ${e.message}`);
          });
          await new Promise<void>((res, rej) => {
            server.once('error', rej);
            server.listen({ host: o.bindAddr, port: wantPort, exclusive: true }, () => {
              server.off('error', rej);
              res();
            });
          });
          const port = (server.address() as net.AddressInfo).port;
          const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4' });
          try {
            await new Promise<void>((res, rej) => {
              sock.once('error', rej);
              sock.bind({ address: o.bindAddr, port, exclusive: true }, () => {
                sock.off('error', rej);
                res();
              });
            });
          } catch (e) {
            server.close();
            sock.close();
            throw e;
          }
          sock.on('error', (e) => {
            stats.udpErrors++;
            log(`udp error: ${e.message}`);
          });
          sock.on('message', (msg, rinfo) => {
            try {
              onPacket(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), rinfo.address, rinfo.port);
            } catch (e) {
              drop('packet-handler');
              log(`packet handler: ${String(e)}`);
            }
          });
          try {
            sock.setRecvBufferSize(2 * 1024 * 1024);
          } catch {
            // not fatal
          }
          udp = sock;
          tcp = server;
          return { addr: o.bindAddr, port };
        } catch (e) {
          if (wantPort !== 0 || attempt >= 5) throw e;
        }
      }
    },
    sendPacket(addr, port, data) {
      if (udp === undefined || closed) return;
      try {
        udp.send(data, port, addr, (e) => {
          if (e) stats.udpErrors++;
        });
      } catch {
        stats.udpErrors++;
      }
    },
    request(addr, port, data, timeoutMs, expectReply) {
      return new Promise((resolve, reject) => {
        if (closed) return reject(new Error('transport closed'));
        const sock = net.connect({ host: addr, port });
        conns.add(sock);
        let settled = false;
        const done = (e: Error | undefined, v?: Uint8Array) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          sock.destroy();
          conns.delete(sock);
          if (e !== undefined) reject(e);
          else resolve(v);
        };
        const timer = setTimeout(() => done(new Error('i/o timeout')), timeoutMs);
        sock.on('error', (e) => done(e));
        sock.on('connect', () => {
          if (!expectReply) {
            sock.end(data, () => done(undefined));
            return;
          }
          sock.write(data);
          readOne(sock, timeoutMs, (e, msg) => done(e, msg));
        });
      });
    },
    async shutdown() {
      closed = true;
      for (const c of conns) c.destroy();
      conns.clear();
      await Promise.all([
        new Promise<void>((r) => (udp ? udp.close(() => r()) : r())),
        new Promise<void>((r) => (tcp ? tcp.close(() => r()) : r())),
      ]).catch(() => {});
      udp = undefined;
      tcp = undefined;
    },
  };
}
