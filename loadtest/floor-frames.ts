/**
 * The floor pseudo-broker's wire format (loadtest/floor-server.ts and adapters/floor.ts): binary
 * frames back to back in a WebSocket message, little-endian, so that neither side pays for more
 * than a few DataView reads per frame. The floor measures Ferry's thread shape, not its codec.
 *
 * Client → server, each frame `op:u8 id:u32` then:
 *   PUBLISH   queue, count:u32, count × (len:u32, body)  → OK id once every body is queued (sync: synced)
 *   SUBSCRIBE queue, prefetch:u32                        → OK id; pushes name the subscription by this id
 *   ACK       queue, count:u32 (id = the subscription)   → no answer: `count` credits back
 *   CREATE    queue                                      → OK id
 *   DELETE    queue                                      → OK id
 * where queue = len:u8 (1..255), UTF-8 bytes.
 * Server → client: OK `op id`; ERROR `op id code(len:u8, bytes) message(len:u16, bytes)`;
 * PUSH `op sub:u32 count:u32, count × (len:u32, body)`.
 */

export const Op = { publish: 1, subscribe: 2, ack: 3, create: 4, delete: 5, ok: 0x81, error: 0x82, push: 0x83 } as const;

/** Bounds of the fields (a test tool's, but every outside input is checked against them). */
export const FloorLimits = { maxQueueBytes: 255, maxBodies: 10_000, maxBodyBytes: 1024 * 1024, maxPrefetch: 100_000 } as const;

/** Stable codes of the floor's error frames; each names what was wrong. */
export type FloorErrorCode =
  | 'BadFrame' // truncated or not binary: the rest of the message is dropped
  | 'BadOp'
  | 'BadQueue'
  | 'BadCount'
  | 'BadBody'
  | 'BadPrefetch'
  | 'NoSuchQueue'
  | 'QueueExists'
  | 'AlreadyConsumed'
  | 'NoSuchSubscription';

/** A request the server could not accept; answered as an ERROR frame, the connection stays open. */
export class FloorFrameError extends Error {
  override readonly name = 'FloorFrameError';
  constructor(
    readonly code: FloorErrorCode,
    message: string,
    /** The request's id, when it could be read. */
    readonly id = 0,
  ) {
    super(message);
  }
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** One decoded client frame; bodies are views into the message they came in. */
export type ClientFrame =
  | { op: typeof Op.publish; id: number; queue: string; bodies: Uint8Array[] }
  | { op: typeof Op.subscribe; id: number; queue: string; prefetch: number }
  | { op: typeof Op.ack; id: number; queue: string; count: number }
  | { op: typeof Op.create | typeof Op.delete; id: number; queue: string };

/** Reads frames from one message; `next()` throws FloorFrameError at the first bad one. */
export class FrameReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #at = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get done(): boolean {
    return this.#at >= this.#bytes.byteLength;
  }

  #need(n: number, field: string, id: number): void {
    if (this.#at + n > this.#bytes.byteLength) throw new FloorFrameError('BadFrame', `frame truncated at ${field} (byte ${this.#at} of ${this.#bytes.byteLength})`, id);
  }

  #u32(field: string, id: number): number {
    this.#need(4, field, id);
    const v = this.#view.getUint32(this.#at, true);
    this.#at += 4;
    return v;
  }

  #queue(id: number): string {
    this.#need(1, 'queue', id);
    const n = this.#bytes[this.#at++]!;
    if (n === 0) throw new FloorFrameError('BadQueue', 'queue: the name is empty', id);
    this.#need(n, 'queue', id);
    let name: string;
    try {
      name = fromUtf8.decode(this.#bytes.subarray(this.#at, this.#at + n));
    } catch {
      throw new FloorFrameError('BadQueue', 'queue: the name is not UTF-8', id);
    }
    this.#at += n;
    return name;
  }

  #bodies(id: number): Uint8Array[] {
    const count = this.#u32('count', id);
    if (count < 1 || count > FloorLimits.maxBodies) throw new FloorFrameError('BadCount', `count: ${count} bodies, must be 1..${FloorLimits.maxBodies}`, id);
    const bodies = new Array<Uint8Array>(count);
    for (let i = 0; i < count; i++) {
      const len = this.#u32('body length', id);
      if (len > FloorLimits.maxBodyBytes) throw new FloorFrameError('BadBody', `body ${i}: ${len} bytes, at most ${FloorLimits.maxBodyBytes}`, id);
      this.#need(len, 'body', id);
      bodies[i] = this.#bytes.subarray(this.#at, this.#at + len);
      this.#at += len;
    }
    return bodies;
  }

  next(): ClientFrame {
    this.#need(5, 'header', 0);
    const op = this.#bytes[this.#at]!;
    const id = this.#view.getUint32(this.#at + 1, true);
    this.#at += 5;
    switch (op) {
      case Op.publish: {
        const queue = this.#queue(id);
        return { op, id, queue, bodies: this.#bodies(id) };
      }
      case Op.subscribe: {
        const queue = this.#queue(id);
        const prefetch = this.#u32('prefetch', id);
        if (prefetch < 1 || prefetch > FloorLimits.maxPrefetch) throw new FloorFrameError('BadPrefetch', `prefetch: ${prefetch}, must be 1..${FloorLimits.maxPrefetch}`, id);
        return { op, id, queue, prefetch };
      }
      case Op.ack: {
        const queue = this.#queue(id);
        const count = this.#u32('count', id);
        if (count < 1 || count > FloorLimits.maxPrefetch) throw new FloorFrameError('BadCount', `count: ${count} acks, must be 1..${FloorLimits.maxPrefetch}`, id);
        return { op, id, queue, count };
      }
      case Op.create:
      case Op.delete:
        return { op, id, queue: this.#queue(id) };
      default:
        throw new FloorFrameError('BadOp', `op: ${op} is not a client op (1 publish, 2 subscribe, 3 ack, 4 create, 5 delete)`, id);
    }
  }
}

/**
 * `buf` if it has room for `extra` more bytes after its first `used`, else a buffer twice as big
 * (or as big as needed) holding those `used` bytes: the growth rule of every append buffer here.
 */
export function withRoom(buf: Uint8Array<ArrayBuffer>, used: number, extra: number): Uint8Array<ArrayBuffer> {
  if (used + extra <= buf.byteLength) return buf;
  const bigger = new Uint8Array(Math.max(buf.byteLength * 2, used + extra));
  bigger.set(buf.subarray(0, used));
  return bigger;
}

/** Appends frames to a growing buffer; `take()` hands the bytes out and starts again. */
export class FrameWriter {
  #buf: Uint8Array<ArrayBuffer>;
  #view: DataView;
  #at = 0;
  readonly #initial: number;

  constructor(initialBytes = 1024) {
    this.#initial = initialBytes;
    this.#buf = new Uint8Array(initialBytes);
    this.#view = new DataView(this.#buf.buffer);
  }

  get length(): number {
    return this.#at;
  }

  #room(n: number): void {
    const buf = withRoom(this.#buf, this.#at, n);
    if (buf === this.#buf) return;
    this.#buf = buf;
    this.#view = new DataView(buf.buffer);
  }

  #head(op: number, id: number): void {
    this.#room(5);
    this.#buf[this.#at] = op;
    this.#view.setUint32(this.#at + 1, id, true);
    this.#at += 5;
  }

  #u32(v: number): void {
    this.#room(4);
    this.#view.setUint32(this.#at, v, true);
    this.#at += 4;
  }

  #queue(queue: string): void {
    const bytes = utf8.encode(queue);
    if (bytes.byteLength < 1 || bytes.byteLength > FloorLimits.maxQueueBytes) throw new RangeError(`queue name of ${bytes.byteLength} bytes (1..${FloorLimits.maxQueueBytes})`);
    this.#room(1 + bytes.byteLength);
    this.#buf[this.#at++] = bytes.byteLength;
    this.#buf.set(bytes, this.#at);
    this.#at += bytes.byteLength;
  }

  #bodies(bodies: readonly Uint8Array[]): void {
    this.#u32(bodies.length);
    for (const b of bodies) {
      this.#u32(b.byteLength);
      this.#room(b.byteLength);
      this.#buf.set(b, this.#at);
      this.#at += b.byteLength;
    }
  }

  publish(id: number, queue: string, bodies: readonly Uint8Array[]): void {
    this.#head(Op.publish, id);
    this.#queue(queue);
    this.#bodies(bodies);
  }

  subscribe(id: number, queue: string, prefetch: number): void {
    this.#head(Op.subscribe, id);
    this.#queue(queue);
    this.#u32(prefetch);
  }

  ack(sub: number, queue: string, count: number): void {
    this.#head(Op.ack, sub);
    this.#queue(queue);
    this.#u32(count);
  }

  admin(op: typeof Op.create | typeof Op.delete, id: number, queue: string): void {
    this.#head(op, id);
    this.#queue(queue);
  }

  ok(id: number): void {
    this.#head(Op.ok, id);
  }

  error(id: number, code: string, message: string): void {
    const c = utf8.encode(code).subarray(0, 255);
    const m = utf8.encode(message).subarray(0, 65_535);
    this.#head(Op.error, id);
    this.#room(3 + c.byteLength + m.byteLength);
    this.#buf[this.#at++] = c.byteLength;
    this.#buf.set(c, this.#at);
    this.#at += c.byteLength;
    this.#view.setUint16(this.#at, m.byteLength, true);
    this.#at += 2;
    this.#buf.set(m, this.#at);
    this.#at += m.byteLength;
  }

  push(sub: number, bodies: readonly Uint8Array[]): void {
    this.#head(Op.push, sub);
    this.#bodies(bodies);
  }

  /**
   * The frames written since the last take, in a buffer of their own (transferable, not copied);
   * the next frames go to a new buffer as big as this take was, so a steady load stops growing it.
   */
  take(): Uint8Array {
    const out = this.#buf.subarray(0, this.#at);
    this.#buf = new Uint8Array(Math.max(this.#initial, this.#at));
    this.#view = new DataView(this.#buf.buffer);
    this.#at = 0;
    return out;
  }
}

/** One decoded server frame (client side); push bodies are views into the message. */
export type ServerFrame =
  | { op: typeof Op.ok; id: number }
  | { op: typeof Op.error; id: number; code: string; message: string }
  | { op: typeof Op.push; sub: number; bodies: Uint8Array[] };

/** Calls `each` for every frame of a server message; throws on a malformed one (a broken server). */
export function readServerFrames(bytes: Uint8Array, each: (f: ServerFrame) => void): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number): void => {
    if (at + n > bytes.byteLength) throw new Error(`floor: server frame truncated at byte ${at} of ${bytes.byteLength}`);
  };
  while (at < bytes.byteLength) {
    need(5);
    const op = bytes[at]!;
    const id = view.getUint32(at + 1, true);
    at += 5;
    if (op === Op.ok) each({ op, id });
    else if (op === Op.error) {
      need(1);
      const cl = bytes[at++]!;
      need(cl + 2);
      const code = fromUtf8.decode(bytes.subarray(at, at + cl));
      at += cl;
      const ml = view.getUint16(at, true);
      at += 2;
      need(ml);
      const message = fromUtf8.decode(bytes.subarray(at, at + ml));
      at += ml;
      each({ op, id, code, message });
    } else if (op === Op.push) {
      need(4);
      const count = view.getUint32(at, true);
      at += 4;
      const bodies = new Array<Uint8Array>(count);
      for (let i = 0; i < count; i++) {
        need(4);
        const len = view.getUint32(at, true);
        at += 4;
        need(len);
        bodies[i] = bytes.subarray(at, at + len);
        at += len;
      }
      each({ op, sub: id, bodies });
    } else throw new Error(`floor: unknown server op ${op}`);
  }
}
