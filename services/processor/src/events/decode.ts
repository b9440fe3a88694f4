// Decoding any domain event: EventMeta is field 1 of every event message, so it is read from
// the wire without knowing the type; the full payload becomes proto3 JSON when the type (the
// `Filemesh-Event-Type` header) is one of filemesh.events.v1.
import { eventsv1 } from "@filemesh/contracts";

const EVENTS_PACKAGE = "filemesh.events.v1.";

interface Codec {
  decode(input: Uint8Array): unknown;
  toJSON(message: unknown): unknown;
}

/** The generated codec of a full type name, e.g. filemesh.events.v1.FileUploaded. */
export function codecOf(type: string): Codec | undefined {
  if (!type.startsWith(EVENTS_PACKAGE)) return undefined;
  const name = type.slice(EVENTS_PACKAGE.length);
  if (!/^[A-Z][A-Za-z0-9]*$/.test(name) || name === "EventMeta") return undefined;
  const candidate = (eventsv1 as Record<string, unknown>)[name] as Partial<Codec> | undefined;
  return typeof candidate?.decode === "function" && typeof candidate.toJSON === "function"
    ? (candidate as Codec)
    : undefined;
}

/** Reads a base-128 varint at `pos`; returns [value, next position]. */
function varint(buf: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (let i = pos; i < buf.length && shift < 64; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, i + 1];
    shift += 7;
  }
  throw new Error("truncated varint");
}

/** The bytes of field 1 (length-delimited) of a protobuf message, or undefined. */
export function field1(buf: Uint8Array): Uint8Array | undefined {
  let pos = 0;
  let found: Uint8Array | undefined;
  while (pos < buf.length) {
    const [tag, p] = varint(buf, pos);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    pos = p;
    if (wire === 0) pos = varint(buf, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, start] = varint(buf, pos);
      pos = start + len;
      if (pos > buf.length) throw new Error("truncated field");
      // The last occurrence wins; embedded messages would merge, but events never repeat meta.
      if (field === 1) found = buf.subarray(start, pos);
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return found;
}

/** EventMeta of any event payload; throws when the payload is not a protobuf message. */
export function decodeMeta(payload: Uint8Array): eventsv1.EventMeta | undefined {
  const bytes = field1(payload);
  return bytes ? eventsv1.EventMeta.decode(bytes) : undefined;
}

/** The payload as proto3 JSON text, or undefined when the type is unknown here. */
export function payloadJson(type: string, payload: Uint8Array): string | undefined {
  const codec = codecOf(type);
  if (!codec) return undefined;
  return JSON.stringify(codec.toJSON(codec.decode(payload)));
}
