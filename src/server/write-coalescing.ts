import type { Socket as TcpSocket } from 'node:net';
import type { Server } from 'socket.io';

/**
 * One socket write per client per turn of the event loop, instead of one per packet.
 *
 * A committed batch of messages reaches each client as several packets in the same turn: acks of its own sends,
 * `message:new` for the other side's, conversation updates. engine.io hands each packet to the kernel as its own
 * write (a `writev` system call that also runs the loopback or NIC path: about a quarter of the server's main-thread
 * time under load, docs/BENCHMARKS.md). Here every engine.io connection's flush is deferred to the end of the
 * current turn (setImmediate), and the WebSocket transport corks its TCP socket while it writes the frames of one
 * flush, so all of them leave in one write. Packets keep their order; the delay is the rest of the current turn
 * (microseconds on an idle server).
 *
 * It relies on engine.io's Socket.flush and its WebSocket transport's `socket._socket` (the ws library's TCP
 * socket); the versions are pinned by package-lock.json, and without those members nothing is changed.
 */
export function coalesceSocketWrites(io: Server): void {
  io.engine.on('connection', (conn: EngineConnection) => {
    if (typeof conn.flush !== 'function') return;
    const flushNow = conn.flush.bind(conn);
    let queued = false;
    conn.flush = () => {
      if (queued) return;
      queued = true;
      setImmediate(() => {
        queued = false;
        flushNow();
      });
    };
    corkFrames(conn.transport);
    conn.on('upgrade', (transport: EngineTransport) => corkFrames(transport));
  });
}

interface EngineTransport {
  name: string;
  send(packets: unknown[]): void;
  socket?: { _socket?: TcpSocket };
}

interface EngineConnection {
  transport: EngineTransport;
  flush(): void;
  on(event: 'upgrade', fn: (transport: EngineTransport) => void): void;
}

function corkFrames(transport: EngineTransport): void {
  const tcp = transport.name === 'websocket' ? transport.socket?._socket : undefined;
  if (!tcp || typeof tcp.cork !== 'function') return;
  const send = transport.send.bind(transport);
  transport.send = (packets) => {
    if (packets.length < 2) return send(packets);
    tcp.cork();
    try {
      send(packets);
    } finally {
      tcp.uncork();
    }
  };
}
