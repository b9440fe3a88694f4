// A streaming answer whose messages are mostly one `bytes` field (ReadFile's `data`, an
// HttpBody's `data` after its content type), written once into a buffer of its exact size. ts-proto's encode grows a 128-byte writer by doubling
// up to the chunk's size, slices it, and the generated serializer copies it again into a
// Buffer: for a 256 KiB chunk a dozen allocations and about four copies of the bytes, where
// this makes one. Messages with any other field set go through the generated serializer; the
// bytes on the wire are the same either way (services/kit/test/bytes-message.test.ts).

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
    const out = Buffer.allocUnsafe(1 + varintSize(data.length) + data.length);
    out.set(data, fieldHead(out, 0, tag, data.length));
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
    const out = Buffer.allocUnsafe(head + 1 + varintSize(data.length) + data.length);
    let p = 0;
    if (ct !== 0) {
      p = fieldHead(out, p, (1 << 3) | 2, ct);
      p += out.write(contentType, p, "utf8");
    }
    p = fieldHead(out, p, (2 << 3) | 2, data.length);
    out.set(data, p);
    return out;
  };
}
