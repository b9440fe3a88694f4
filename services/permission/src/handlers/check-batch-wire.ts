// CheckBatch on the wire (issue 14). The request is read straight from its protobuf bytes into
// flat arrays the handler checks in place: no object per item, a subject decoded only when its
// bytes differ from the item before's (the usual batch asks about one subject), a permission
// kept as the role rank it needs, a resource checked on its bytes and made a string only when
// it is a well-formed file ref. The response is written once into a buffer of its exact size.
// The generated types stay the contract: check-batch-wire.test.ts holds both codecs to
// ts-proto's CheckBatchRequest and CheckBatchResponse, byte for byte.
//
// Malformed input throws, and the kit answers INVALID_ARGUMENT (MALFORMED_REQUEST): a tag,
// varint or length running past the end, field number 0, a known field with another wire
// type, groups (proto3 has none; ts-proto would skip them, or stop at an end-group tag).
// Unknown fields are skipped; a field given twice keeps its last value, as protobuf says.
import { permissionv1 } from "@filemesh/contracts";

/** The most checks a batch may hold (TOO_MANY_ITEMS beyond). */
export const MAX_BATCH = 1000;

/** A CheckBatchRequest as the handler reads it. Item i is subjects[i], resources[i], ranks[i]. */
export interface CheckBatchQuestions {
  /** Items in the request, every one counted (the rate limit's cost); kept only up to MAX_BATCH. */
  readonly count: number;
  /** "" when the item names none (the caller); decoded as UTF-8, replacement characters and all. */
  readonly subjects: string[];
  /** The resource when it is a well-formed "file:<id>", else "" (INVALID_RESOURCE). */
  readonly resources: string[];
  /** The role rank the item's permission needs (read 1, write and share 2, delete 3); 0: none. */
  readonly ranks: Uint8Array;
  /** min_revision as ts-proto gives it: the signed decimal, "0" when absent. */
  readonly minRevision: string;
}

/** A CheckBatchResponse in its wire form (what the service definition sends as it is). */
export interface CheckBatchAnswer {
  readonly wire: Buffer;
}

const malformed = (what: string) => new Error(`CheckBatchRequest: ${what}`);

// Wire types.
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/** The decoder's position in the message; varints are read into `value`. */
interface Cursor {
  buf: Uint8Array;
  pos: number;
  value: number;
}

/** A varint of up to 32 bits (tags, lengths), as an unsigned number; longer ones are refused. */
function uint32(c: Cursor, end: number): number {
  // One byte: every tag and length of a CheckBatchRequest up to 127 bytes.
  const pos = c.pos;
  if (pos < end) {
    const b = c.buf[pos]!;
    if (b < 0x80) {
      c.pos = pos + 1;
      return b;
    }
  }
  return uint32Long(c, end);
}

function uint32Long(c: Cursor, end: number): number {
  const { buf } = c;
  let v = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (c.pos >= end) throw malformed("truncated varint");
    const b = buf[c.pos++]!;
    v += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) {
      if (v > 0xffffffff) throw malformed("varint out of range");
      return v;
    }
  }
  throw malformed("varint too long");
}

/** Skips a varint of up to 10 bytes (protobuf's limit). */
function skipVarint(c: Cursor, end: number): void {
  for (let i = 0; i < 10; i++) {
    if (c.pos >= end) throw malformed("truncated varint");
    if (c.buf[c.pos++]! < 0x80) return;
  }
  throw malformed("varint too long");
}

/** The end of a length-delimited field whose length starts at c.pos. */
function lengthEnd(c: Cursor, end: number): number {
  const len = uint32(c, end);
  if (len > end - c.pos) throw malformed("length past the end");
  return c.pos + len;
}

/** Skips an unknown field's value; groups and stray end-group tags are malformed. */
function skipField(c: Cursor, wire: number, end: number): void {
  if (wire === VARINT) skipVarint(c, end);
  else if (wire === LEN) c.pos = lengthEnd(c, end);
  else if (wire === I64 || wire === I32) {
    const width = wire === I64 ? 8 : 4;
    if (width > end - c.pos) throw malformed("truncated fixed-width field");
    c.pos += width;
  } else throw malformed(`wire type ${wire}`);
}

/** A field's tag: its number (refusing 0) in c.value, its wire type returned. */
function tag(c: Cursor, end: number): number {
  const t = uint32(c, end);
  if (t < 8) throw malformed("field number 0");
  c.value = Math.floor(t / 8);
  return t & 7;
}

/** An int64 varint as its signed decimal, as ts-proto's reader.int64().toString(). */
function int64(c: Cursor, end: number): string {
  const start = c.pos;
  skipVarint(c, end);
  let small = 0;
  if (c.pos - start <= 7) {
    // Up to 49 bits: exact as a number.
    for (let i = c.pos - 1; i >= start; i--) small = small * 128 + (c.buf[i]! & 0x7f);
    return String(small);
  }
  let big = 0n;
  for (let i = c.pos - 1; i >= start; i--) big = (big << 7n) | BigInt(c.buf[i]! & 0x7f);
  return BigInt.asIntN(64, big).toString();
}

// As @bufbuild/protobuf decodes strings: U+FFFD for bad bytes, a leading U+FEFF kept as text.
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** The bytes of an id (refs.ts): bit 1, anywhere after the first ([A-Za-z0-9._-]); bit 2, first too. */
const ID_BYTE = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  const c = String.fromCharCode(b);
  if (/[A-Za-z0-9]/.test(c)) ID_BYTE[b] = 3;
  else if (/[._-]/.test(c)) ID_BYTE[b] = 1;
}

/** True when buf[start, end) is "file:" and an id of [A-Za-z0-9][A-Za-z0-9._-]{0,127} (refs.ts). */
function isFileRef(buf: Uint8Array, start: number, end: number): boolean {
  const len = end - start;
  if (len < 6 || len > 133) return false;
  // "file:"
  if (buf[start] !== 0x66 || buf[start + 1] !== 0x69 || buf[start + 2] !== 0x6c) return false;
  if (buf[start + 3] !== 0x65 || buf[start + 4] !== 0x3a) return false;
  if ((ID_BYTE[buf[start + 5]!]! & 2) === 0) return false;
  for (let i = start + 6; i < end; i++) if (ID_BYTE[buf[i]!] === 0) return false;
  return true;
}

/** The rank a permission's bytes need: read 1, write 2, share 2, delete 3; anything else 0. */
function rankOf(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  const b = buf[start];
  const [c1, c2, c3, c4] = [buf[start + 1], buf[start + 2], buf[start + 3], buf[start + 4]];
  if (len === 4) return b === 0x72 && c1 === 0x65 && c2 === 0x61 && c3 === 0x64 ? 1 : 0; // read
  if (len === 5) {
    if (b === 0x77) return c1 === 0x72 && c2 === 0x69 && c3 === 0x74 && c4 === 0x65 ? 2 : 0; // write
    if (b === 0x73) return c1 === 0x68 && c2 === 0x61 && c3 === 0x72 && c4 === 0x65 ? 2 : 0; // share
    return 0;
  }
  if (len === 6) {
    return b === 0x64 && c1 === 0x65 && c2 === 0x6c && c3 === 0x65 && c4 === 0x74 && buf[start + 5] === 0x65
      ? 3
      : 0; // delete
  }
  return 0;
}

/** The bytes [a, a + len) and [b, b + len) are equal. */
function equalBytes(buf: Uint8Array, a: number, b: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (buf[a + i] !== buf[b + i]) return false;
  return true;
}

/**
 * Decodes a CheckBatchRequest (the service definition's requestDeserialize). Throws on
 * malformed input (see the top of this file).
 */
export function decodeCheckBatchRequest(buf: Buffer): CheckBatchQuestions {
  const end = buf.length;
  const c: Cursor = { buf, pos: 0, value: 0 };
  // First pass, the message's own fields: count the items, read min_revision.
  let count = 0;
  let minRevision = "0";
  while (c.pos < end) {
    const wire = tag(c, end);
    const field = c.value;
    if (field === 1) {
      if (wire !== LEN) throw malformed("items: wire type");
      c.pos = lengthEnd(c, end);
      count++;
    } else if (field === 2) {
      if (wire !== VARINT) throw malformed("min_revision: wire type");
      minRevision = int64(c, end);
    } else skipField(c, wire, end);
  }
  // Second pass, the items, into arrays of their final size (none kept beyond MAX_BATCH:
  // such a batch is refused, but every item must still decode).
  const kept = count <= MAX_BATCH ? count : 0;
  const subjects = new Array<string>(kept);
  const resources = new Array<string>(kept);
  const ranks = new Uint8Array(kept);
  let lastSubject = "";
  let lastStart = 0;
  let lastLen = 0;
  let i = 0;
  c.pos = 0;
  while (c.pos < end) {
    const wire = tag(c, end);
    if (c.value !== 1) {
      skipField(c, wire, end);
      continue;
    }
    const itemEnd = lengthEnd(c, end);
    let subject = "";
    let resource = "";
    let rank = 0;
    while (c.pos < itemEnd) {
      const w = tag(c, itemEnd);
      const f = c.value;
      if (f < 1 || f > 3) {
        skipField(c, w, itemEnd);
        continue;
      }
      if (w !== LEN) throw malformed(`items[${i}]: wire type`);
      const stop = lengthEnd(c, itemEnd);
      const start = c.pos;
      c.pos = stop;
      if (i >= kept) continue;
      const len = stop - start;
      if (f === 1) {
        if (len === 0) subject = "";
        else if (len === lastLen && equalBytes(buf, start, lastStart, len)) subject = lastSubject;
        else {
          subject = utf8.decode(buf.subarray(start, stop));
          lastSubject = subject;
          lastStart = start;
          lastLen = len;
        }
      } else if (f === 2) {
        resource = isFileRef(buf, start, stop) ? buf.toString("latin1", start, stop) : "";
      } else rank = rankOf(buf, start, stop);
    }
    if (i < kept) {
      subjects[i] = subject;
      resources[i] = resource;
      ranks[i] = rank;
    }
    i++;
  }
  return { count, subjects, resources, ranks, minRevision };
}

/** The size of a varint holding `v` (a safe non-negative integer). */
function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/**
 * A CheckBatchResponse of `count` answers and `revision`, laid out as ts-proto encodes it
 * (packed bools, then the revision unless 0); the answers are written in place with
 * `answers[at + i] = allowed ? 1 : 0` (all false until then).
 */
export function checkBatchAnswer(count: number, revision: number): CheckBatchAnswer & { at: number } {
  const head = count === 0 ? 0 : 1 + varintSize(count);
  const tail = revision === 0 ? 0 : 1 + varintSize(revision);
  const wire = Buffer.alloc(head + count + tail);
  if (count !== 0) {
    wire[0] = 0x0a; // field 1, LEN
    writeVarint(wire, 1, count);
  }
  if (revision !== 0) {
    const pos = head + count;
    wire[pos] = 0x10; // field 2, VARINT
    writeVarint(wire, pos + 1, revision);
  }
  return { wire, at: head };
}

// Check on the wire: the same reader for the request (four scalar fields: the handler gets the
// object ts-proto would make) and the answer from a buffer kept per revision — Check's answer is
// one of two byte strings while the index stays at a revision, so most calls encode nothing.

/** A string field's bytes as ts-proto decodes them: ASCII as it is, anything else as UTF-8. */
function text(buf: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return utf8.decode(buf.subarray(start, end));
  return buf.toString("latin1", start, end);
}

/**
 * Decodes a CheckRequest into what ts-proto's decode gives (the service definition's
 * requestDeserialize). Throws on malformed input, as decodeCheckBatchRequest does.
 */
export function decodeCheckRequest(buf: Buffer): permissionv1.CheckRequest {
  const end = buf.length;
  const c: Cursor = { buf, pos: 0, value: 0 };
  let subject = "";
  let resource = "";
  let permission = "";
  let minRevision = "0";
  while (c.pos < end) {
    const wire = tag(c, end);
    const field = c.value;
    if (field === 4) {
      if (wire !== VARINT) throw malformed("min_revision: wire type");
      minRevision = int64(c, end);
    } else if (field >= 1 && field <= 3) {
      if (wire !== LEN) throw malformed("wire type");
      const stop = lengthEnd(c, end);
      const value = text(buf, c.pos, stop);
      c.pos = stop;
      if (field === 1) subject = value;
      else if (field === 2) resource = value;
      else permission = value;
    } else skipField(c, wire, end);
  }
  return { subject, resource, permission, minRevision };
}

/**
 * CheckResponse's serializer: the two answers of the last revision seen are kept as bytes (laid
 * out as ts-proto writes them); a revision that is not a safe integer goes through ts-proto.
 * grpc-js copies a serialized message into its frame, so the kept buffers are never handed out
 * to be changed.
 */
export function checkResponseEncoder(): (res: permissionv1.CheckResponse) => Buffer {
  let revision: string | undefined;
  let allowed = Buffer.alloc(0);
  let denied = Buffer.alloc(0);
  return (res) => {
    if (res.revision !== revision) {
      const r = Number(res.revision);
      if (!Number.isSafeInteger(r) || r < 0 || String(r) !== res.revision) {
        return Buffer.from(permissionv1.CheckResponse.encode(res).finish());
      }
      const tail = r === 0 ? 0 : 1 + varintSize(r);
      denied = Buffer.alloc(tail);
      if (r !== 0) {
        denied[0] = 0x10; // field 2, VARINT
        writeVarint(denied, 1, r);
      }
      allowed = Buffer.alloc(2 + tail);
      allowed[0] = 0x08; // field 1, VARINT
      allowed[1] = 1;
      denied.copy(allowed, 2);
      revision = res.revision;
    }
    return res.allowed ? allowed : denied;
  };
}

/** The generated PermissionService definition, Check's and CheckBatch's server side read and written here. */
export const permissionService = {
  ...permissionv1.PermissionServiceService,
  check: {
    ...permissionv1.PermissionServiceService.check,
    requestDeserialize: decodeCheckRequest,
    responseSerialize: checkResponseEncoder(),
  },
  checkBatch: {
    ...permissionv1.PermissionServiceService.checkBatch,
    requestDeserialize: decodeCheckBatchRequest,
    responseSerialize: (answer: CheckBatchAnswer): Buffer => answer.wire,
  },
};
