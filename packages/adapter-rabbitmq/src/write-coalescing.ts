import type { ChannelModel } from 'amqplib';

/** What we need of the socket under an amqplib connection (a net.Socket or tls.TLSSocket). */
interface CorkableSocket {
  write: (...args: never[]) => boolean;
  cork(): void;
  uncork(): void;
}

const coalesced = new WeakSet<object>();

function socketOf(model: ChannelModel): CorkableSocket | undefined {
  // `connection.stream` is amqplib's own field (the socket it was given), not in its typings.
  const stream = (model.connection as { stream?: unknown }).stream as Partial<CorkableSocket> | undefined;
  const usable = typeof stream?.write === 'function' && typeof stream.cork === 'function' && typeof stream.uncork === 'function';
  return usable ? (stream as CorkableSocket) : undefined;
}

/**
 * Send what amqplib writes in one turn of the event loop as one `writev` instead of one write each.
 *
 * amqplib's muxer writes a message's method+header frames and its body frame to the socket as two
 * writes, and every ack or other method as one more, each a system call (on loopback one that also
 * runs the peer's TCP receive). A confirm channel publishing a batch of 500 made ~1,000 writes. Here the
 * first write of a turn corks the socket and a `process.nextTick` uncorks it once that turn's
 * synchronous work (the muxer's loop over every channel's frames) is done: 10,000 events through the
 * bus went from 10,889 write calls to 1,033 (strace), the client's CPU per event to 0.91 ×
 * (docs/decisions/per-event-profile.md). Nothing waits longer than the turn it was written in; order is
 * kept (cork only buffers); a write past the socket's high-water mark still returns false, so the
 * muxer stops and resumes on `drain` exactly as without it; `end()` flushes a corked socket.
 *
 * Returns false, and leaves the connection as it is, when the model has no socket we recognise (a
 * future amqplib): correct either way, only slower.
 */
export function coalesceWrites(model: ChannelModel): boolean {
  const socket = socketOf(model);
  if (!socket) return false;
  if (coalesced.has(socket)) return true;
  coalesced.add(socket);
  const write = socket.write;
  let corked = false;
  const flush = () => {
    corked = false;
    socket.uncork();
  };
  // An own property shadows net.Socket's prototype method for this socket only.
  socket.write = function coalescingWrite(this: CorkableSocket, ...args: never[]): boolean {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(flush);
    }
    return write.apply(this, args);
  };
  return true;
}
