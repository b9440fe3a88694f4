// A streaming answer whose messages are mostly one `bytes` field (ReadFile's `data`, an
// HttpBody's `data` after its content type), written once into a buffer of its exact size. ts-proto's encode grows a 128-byte writer by doubling
// up to the chunk's size, slices it, and the generated serializer copies it again into a
// Buffer: for a 256 KiB chunk a dozen allocations and about four copies of the bytes, where
// this makes one. Messages with any other field set go through the generated serializer; the
// bytes on the wire are the same either way (services/kit/test/bytes-message.test.ts).
// A streamed download assembles each chunk once, into `roomyBytes`: the serializers then write
// the field's head into the room in front of it and answer a view, copying nothing (grpc-js makes
// the one copy that frames the message).

/** Bytes reserved in front of a `roomyBytes` chunk: a one-byte tag and a length of up to 7 bytes. */
const HEADROOM = 8;
/** Chunks from `roomyBytes`: the HEADROOM bytes before each one belong to it. */
const roomy = new WeakSet<Uint8Array>();

/**
 * A buffer of `size` bytes for a message's bytes field with room in front of it, so the
 * serializers below write the message around it without a copy. Fill it, then send it (or its
 * `roomyPrefix`) as the field; the room is overwritten by every serialization.
 */
export function roomyBytes(size: number): Buffer {
  const view = Buffer.allocUnsafe(HEADROOM + size).subarray(HEADROOM);
  roomy.add(view);
  return view;
}

/** The first `length` bytes of a `roomyBytes` chunk, with the same room in front. */
export function roomyPrefix(chunk: Buffer, length: number): Buffer {
  const view = chunk.subarray(0, length);
  if (roomy.has(chunk)) roomy.add(view);
  return view;
}

/**
 * A streamed message's own property, called by the kit's stream writer once grpc-js has written
 * the message (its write callback: the bytes have left for the socket). While a stream has such
 * messages unwritten, the writer keeps at most `MAX_UNWRITTEN` of them in flight.
 */
export const WRITTEN: unique symbol = Symbol("filemesh.written");
export const MAX_UNWRITTEN = 4;

/**
 * One stream's `roomyBytes` chunks of `size` bytes, reused: `message` marks a message so that its
 * chunk comes back once it is written, and `take` hands it out again. A download then allocates
 * a few chunks, not one per message (V8 collects garbage by the external memory it allocates).
 */
export class ChunkPool {
  readonly #free: Buffer[] = [];
  constructor(readonly size: number) {}

  /** A chunk of `size` bytes (the pool's size: a returned one when there is one). */
  take(size = this.size): Buffer {
    return (size === this.size && this.#free.pop()) || roomyBytes(size);
  }

  /** `message`, carrying `chunk` as its bytes, marked to give the chunk back once written. */
  message<T extends object>(message: T, chunk: Buffer): T {
    if (chunk.length !== this.size || !roomy.has(chunk)) return message;
    return Object.assign(message, {
      [WRITTEN]: () => {
        if (this.#free.length < MAX_UNWRITTEN) this.#free.push(chunk);
      },
    });
  }
}

/**
 * The message `head` bytes + `data`: written around `data` when it has the room (a view, no
 * copy), else into a new buffer of the exact size.
 */
function around(head: number, data: Uint8Array): { out: Buffer; placed: boolean } {
  if (head <= HEADROOM && roomy.has(data)) {
    return { out: Buffer.from(data.buffer, data.byteOffset - head, head + data.length), placed: true };
  }
  return { out: Buffer.allocUnsafe(head + data.length), placed: false };
}

/**
 * `serialize` with a fast path for messages whose only field set is the bytes field `key`
 * (protobuf field number `field`, below 16 so its tag is one byte).
 */
export function bytesMessageSerializer<T extends object>(
  serialize: (value: T) => Buffer,
  field: number,
  key: keyof T & string,
): (value: T) => Buffer {
  if (!Number.isInteger(field) || field < 1 || field > 15) throw new Error("field must be 1–15");
  const tag = (field << 3) | 2; // length-delimited
  return (value) => {
    const data = value[key] as unknown;
    if (!(data instanceof Uint8Array) || data.length === 0) return serialize(value);
    for (const k in value) {
      if (k !== key && value[k as keyof T] !== undefined) return serialize(value);
    }
    const { out, placed } = around(1 + varintSize(data.length), data);
    const at = fieldHead(out, 0, tag, data.length);
    if (!placed) out.set(data, at);
    return out;
  };
}

/** Writes a length-delimited field's one-byte tag and its length as a varint at `p`; returns where its `len` bytes go. */
function fieldHead(out: Buffer, p: number, tag: number, len: number): number {
  out[p++] = tag;
  while (len > 127) {
    out[p++] = (len & 127) | 128;
    len >>>= 7;
  }
  out[p++] = len;
  return p;
}

const varintSize = (n: number) => {
  let size = 1;
  for (let x = n; x > 127; x >>>= 7) size++;
  return size;
};

/**
 * `serialize` for google.api.HttpBody (GetFileContent's stream) with a fast path for a chunk
 * without extensions: content_type (field 1, when not "") and data (field 2), written once into
 * a buffer of their exact size, as ts-proto would write them.
 */
export function httpBodySerializer<
  T extends { contentType: string; data: Buffer | Uint8Array; extensions: unknown[] },
>(serialize: (value: T) => Buffer): (value: T) => Buffer {
  return (value) => {
    const { contentType, data, extensions } = value;
    if (extensions.length > 0 || !(data instanceof Uint8Array) || data.length === 0) return serialize(value);
    const ct = contentType === "" ? 0 : Buffer.byteLength(contentType);
    const head = ct === 0 ? 0 : 1 + varintSize(ct) + ct;
    const { out, placed } = around(head + 1 + varintSize(data.length), data);
    let p = 0;
    if (ct !== 0) {
      p = fieldHead(out, p, (1 << 3) | 2, ct);
      p += out.write(contentType, p, "utf8");
    }
    p = fieldHead(out, p, (2 << 3) | 2, data.length);
    if (!placed) out.set(data, p);
    return out;
  };
}
