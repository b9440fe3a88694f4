// A streaming answer whose messages are mostly one `bytes` field (ReadFile's `data`), written
// once into a buffer of its exact size. ts-proto's encode grows a 128-byte writer by doubling
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
    let n = data.length;
    let head = 2;
    for (let x = n; x > 127; x >>>= 7) head++;
    const out = Buffer.allocUnsafe(head + n);
    out[0] = tag;
    let p = 1;
    while (n > 127) {
      out[p++] = (n & 127) | 128;
      n >>>= 7;
    }
    out[p++] = n;
    out.set(data, p);
    return out;
  };
}
