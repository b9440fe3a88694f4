// CheckBatch's wire codec against the contract, ts-proto's generated CheckBatchRequest and
// CheckBatchResponse: the same answer for every request ts-proto reads (random ones, cut ones
// and mangled ones included), a throw wherever ts-proto throws, and a throw on what proto3
// never sends (wrong wire types, groups, field 0); the response byte for byte.
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { permissionv1 } from "@filemesh/contracts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isPermission, PERMISSION_RANK } from "../domain/model.js";
import { isRefOf } from "../domain/refs.js";
import {
  checkBatchAnswer,
  checkResponseEncoder,
  decodeCheckBatchRequest,
  decodeCheckRequest,
  MAX_BATCH,
} from "./check-batch-wire.js";

const { CheckBatchRequest, CheckBatchResponse, CheckRequest, CheckResponse } = permissionv1;

/** What the handler must see for a request as ts-proto decodes it. */
function expected(req: permissionv1.CheckBatchRequest) {
  return {
    count: req.items.length,
    subjects: req.items.map((it) => it.subject),
    resources: req.items.map((it) => (isRefOf(it.resource, "file") ? it.resource : "")),
    ranks: req.items.map((it) => (isPermission(it.permission) ? PERMISSION_RANK[it.permission] : 0)),
    minRevision: req.minRevision,
  };
}

function ours(bytes: Uint8Array) {
  const q = decodeCheckBatchRequest(Buffer.from(bytes));
  return { ...q, ranks: [...q.ranks] };
}

/** "throws", or what each decoder makes of the bytes. */
function both(bytes: Uint8Array) {
  let theirs: ReturnType<typeof expected> | "throws";
  try {
    theirs = expected(CheckBatchRequest.decode(bytes));
  } catch {
    theirs = "throws";
  }
  let mine: ReturnType<typeof ours> | "throws";
  try {
    mine = ours(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    mine = "throws";
  }
  return { theirs, mine };
}

const encode = (req: permissionv1.CheckBatchRequest) => CheckBatchRequest.encode(req).finish();

const subjects = ["", "user:u1", "user:u2", "group:g-1", "link:l", "nobody", "usér:x", "\ufeffuser:u1"];
const resources = [
  "file:f1",
  "file:a.b-c_D9",
  `file:${"x".repeat(128)}`,
  `file:${"x".repeat(129)}`,
  "file:-x",
  "file:.x",
  "file:",
  "file:é",
  "folder:x",
  "File:f1",
  "\ufefffile:f1",
  "file:f1\n",
  "file:f 1",
  "",
];
const permissions = ["read", "write", "share", "delete", "own", "", "READ", "reads", "rea", "delete!"];
const revisions = [
  "0",
  "1",
  "127",
  "128",
  "9007199254740993",
  "-1",
  "9223372036854775807",
  "-9223372036854775808",
];

const requestArb: fc.Arbitrary<permissionv1.CheckBatchRequest> = fc.record({
  items: fc.array(
    fc.record({
      subject: fc.oneof(fc.constantFrom(...subjects), fc.string({ maxLength: 12 })),
      resource: fc.oneof(fc.constantFrom(...resources), fc.string({ maxLength: 12 })),
      permission: fc.oneof(fc.constantFrom(...permissions), fc.string({ maxLength: 6 })),
    }),
    { maxLength: 12 },
  ),
  minRevision: fc.constantFrom(...revisions),
});

/** A field ts-proto's CheckBatchRequest does not know, of each wire type. */
function unknownFields(w: BinaryWriter, field: number): BinaryWriter {
  return w
    .tag(field, WireType.Varint)
    .uint64("18446744073709551615")
    .tag(field + 1, WireType.Bit64)
    .fixed64(7)
    .tag(field + 2, WireType.LengthDelimited)
    .bytes(new Uint8Array([1, 2, 3]))
    .tag(field + 3, WireType.Bit32)
    .fixed32(9);
}

describe("CheckBatchRequest decoding", () => {
  it("reads every request as ts-proto does", () => {
    fc.assert(
      fc.property(requestArb, (req) => {
        const bytes = encode(req);
        expect(ours(bytes)).toEqual(expected(req));
        expect(expected(CheckBatchRequest.decode(bytes))).toEqual(expected(req));
      }),
      { numRuns: 500 },
    );
  });

  it("keeps one string per run of equal subjects, and none for the caller", () => {
    const items = ["", "", "user:u1", "user:u1", "group:g", "user:u1"].map((subject) => ({
      subject,
      resource: "file:f1",
      permission: "read",
    }));
    const q = decodeCheckBatchRequest(Buffer.from(encode({ items, minRevision: "0" })));
    expect(q.subjects).toEqual(items.map((it) => it.subject));
    expect(q.ranks).toEqual(new Uint8Array([1, 1, 1, 1, 1, 1]));
  });

  it("throws wherever ts-proto throws, and agrees wherever both read: cut, mangled and random bytes", () => {
    const cutOrMangled = fc
      .tuple(requestArb, fc.nat(), fc.nat(255), fc.boolean())
      .map(([req, at, byte, cut]) => {
        const bytes = encode(req);
        if (bytes.length === 0) return bytes;
        const i = at % bytes.length;
        if (cut) return bytes.subarray(0, i);
        const copy = Uint8Array.from(bytes);
        copy[i] = byte;
        return copy;
      });
    fc.assert(
      fc.property(fc.oneof(cutOrMangled, fc.uint8Array({ maxLength: 64 })), (bytes) => {
        const { theirs, mine } = both(bytes);
        if (theirs === "throws") expect(mine).toBe("throws");
        else if (mine !== "throws") expect(mine).toEqual(theirs);
      }),
      { numRuns: 3000 },
    );
  });

  it("throws on every cut inside a field of a real request", () => {
    const bytes = encode({
      items: [
        { subject: "user:u1", resource: "file:f1", permission: "read" },
        { subject: "", resource: "file:f2", permission: "delete" },
      ],
      minRevision: "300",
    });
    // Whole fields end at these offsets: a cut there is a shorter valid request.
    const boundaries = new Set([0]);
    let pos = 0;
    while (pos < bytes.length) {
      pos += bytes[pos] === 0x10 ? 3 : 2 + bytes[pos + 1]!;
      boundaries.add(pos);
    }
    for (let i = 0; i < bytes.length; i++) {
      const { theirs, mine } = both(bytes.subarray(0, i));
      if (boundaries.has(i)) expect(mine).toEqual(theirs);
      else expect([i, mine]).toEqual([i, "throws"]);
    }
  });

  it("skips unknown fields of every wire type, in the request and in an item", () => {
    const w = unknownFields(new BinaryWriter(), 5);
    w.tag(1, WireType.LengthDelimited).fork();
    unknownFields(w, 10).tag(2, WireType.LengthDelimited).string("file:f1");
    w.tag(3, WireType.LengthDelimited).string("write").join();
    w.tag(2, WireType.Varint).int64(42);
    unknownFields(w, 100);
    expect(ours(w.finish())).toEqual(
      expected({ items: [{ subject: "", resource: "file:f1", permission: "write" }], minRevision: "42" }),
    );
  });

  it("keeps the last value of a field given twice", () => {
    const w = new BinaryWriter();
    w.tag(2, WireType.Varint).int64(5).tag(1, WireType.LengthDelimited).fork();
    w.tag(2, WireType.LengthDelimited).string("nope").tag(2, WireType.LengthDelimited).string("file:f9");
    w.tag(3, WireType.LengthDelimited).string("read").tag(3, WireType.LengthDelimited).string("own");
    w.join().tag(2, WireType.Varint).int64(7);
    const bytes = w.finish();
    expect(ours(bytes)).toEqual(expected(CheckBatchRequest.decode(bytes)));
    expect(ours(bytes)).toMatchObject({ resources: ["file:f9"], ranks: [0], minRevision: "7" });
  });

  it("refuses what proto3 never sends: wrong wire types, groups, end-group tags, field 0", () => {
    const item = (build: (w: BinaryWriter) => void) => {
      const w = new BinaryWriter().tag(1, WireType.LengthDelimited).fork();
      build(w);
      return w.join().finish();
    };
    const cases: Record<string, Uint8Array> = {
      "items as a varint": new BinaryWriter().tag(1, WireType.Varint).uint32(3).finish(),
      "items as fixed32": new BinaryWriter().tag(1, WireType.Bit32).fixed32(3).finish(),
      "min_revision as bytes": new BinaryWriter().tag(2, WireType.LengthDelimited).string("1").finish(),
      "min_revision as fixed64": new BinaryWriter().tag(2, WireType.Bit64).fixed64(1).finish(),
      "resource as a varint": item((w) => w.tag(2, WireType.Varint).uint32(1)),
      "subject as fixed64": item((w) => w.tag(1, WireType.Bit64).fixed64(1)),
      "permission as fixed32": item((w) => w.tag(3, WireType.Bit32).fixed32(1)),
      "a group": new BinaryWriter().tag(7, WireType.StartGroup).tag(7, WireType.EndGroup).finish(),
      "an end-group tag": new BinaryWriter().tag(7, WireType.EndGroup).finish(),
      "a group in an item": item((w) => w.tag(9, WireType.StartGroup).tag(9, WireType.EndGroup)),
      "field 0": new Uint8Array([0x00]),
      "field 0 as bytes": new Uint8Array([0x02, 0x00]),
      "wire type 6": new Uint8Array([0x0e, 0x00]),
      "wire type 7": new Uint8Array([0x0f, 0x00]),
      "an 11-byte varint": new Uint8Array([0x10, ...Array(10).fill(0xff), 0x01]),
      "a 6-byte tag": new Uint8Array([0x88, 0x80, 0x80, 0x80, 0x80, 0x00]),
      "a tag past 32 bits": new Uint8Array([0xf8, 0xff, 0xff, 0xff, 0x7f]),
      "a length past the end": new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
      "an item's field past the item": new Uint8Array([0x0a, 0x02, 0x12, 0x05, 0x66, 0x69, 0x6c, 0x65, 0x3a]),
    };
    for (const [what, bytes] of Object.entries(cases)) {
      expect([what, both(bytes).mine]).toEqual([what, "throws"]);
    }
  });

  it("counts every item of an oversized batch and keeps none, still decoding each", () => {
    const items = Array.from({ length: MAX_BATCH + 1 }, () => ({
      subject: "",
      resource: "file:f1",
      permission: "read",
    }));
    const bytes = encode({ items, minRevision: "0" });
    expect(ours(bytes)).toMatchObject({ count: MAX_BATCH + 1, subjects: [], resources: [], ranks: [] });
    // One broken item among them is still a malformed request.
    const broken = Uint8Array.from(bytes);
    broken[broken.length - 5] = 0x7f; // the last item's permission length, past its item
    expect(both(broken)).toEqual({ theirs: "throws", mine: "throws" });
  });
});

describe("CheckBatchResponse encoding", () => {
  it("writes what ts-proto writes, byte for byte", () => {
    for (const count of [0, 1, 3, 127, 128, 1000]) {
      for (const revision of [0, 1, 127, 128, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
        const allowed = Array.from({ length: count }, (_, i) => i % 3 === 1);
        const answer = checkBatchAnswer(count, revision);
        allowed.forEach((a, i) => {
          if (a) answer.wire[answer.at + i] = 1;
        });
        const want = CheckBatchResponse.encode({ allowed, revision: String(revision) }).finish();
        expect([count, revision, Buffer.from(answer.wire).toString("hex")]).toEqual([
          count,
          revision,
          Buffer.from(want).toString("hex"),
        ]);
      }
    }
  });
});

const checkArb: fc.Arbitrary<permissionv1.CheckRequest> = fc.record({
  subject: fc.oneof(fc.constantFrom(...subjects), fc.string({ maxLength: 12 })),
  resource: fc.oneof(fc.constantFrom(...resources), fc.string({ maxLength: 12 })),
  permission: fc.oneof(fc.constantFrom(...permissions), fc.string({ maxLength: 6 })),
  minRevision: fc.constantFrom(...revisions),
});

describe("CheckRequest decoding", () => {
  it("gives the object ts-proto gives, for every request and for cut, mangled and random bytes", () => {
    fc.assert(
      fc.property(checkArb, (req) => {
        const bytes = CheckRequest.encode(req).finish();
        expect(decodeCheckRequest(Buffer.from(bytes))).toEqual(CheckRequest.decode(bytes));
        expect(decodeCheckRequest(Buffer.from(bytes))).toEqual(req);
      }),
      { numRuns: 1000 },
    );
    const cutOrMangled = fc
      .tuple(checkArb, fc.nat(), fc.nat(255), fc.boolean())
      .map(([req, at, byte, cut]) => {
        const bytes = CheckRequest.encode(req).finish();
        if (bytes.length === 0) return bytes;
        const i = at % bytes.length;
        if (cut) return bytes.subarray(0, i);
        const copy = Uint8Array.from(bytes);
        copy[i] = byte;
        return copy;
      });
    fc.assert(
      fc.property(fc.oneof(cutOrMangled, fc.uint8Array({ maxLength: 64 })), (bytes) => {
        let theirs: permissionv1.CheckRequest | "throws";
        try {
          theirs = CheckRequest.decode(bytes);
        } catch {
          theirs = "throws";
        }
        let mine: permissionv1.CheckRequest | "throws";
        try {
          mine = decodeCheckRequest(Buffer.from(bytes));
        } catch {
          mine = "throws";
        }
        if (theirs === "throws") expect(mine).toBe("throws");
        else if (mine !== "throws") expect(mine).toEqual(theirs);
      }),
      { numRuns: 3000 },
    );
  });

  it("skips unknown fields and keeps the last of a field given twice; refuses a known field's wrong wire type", () => {
    const w = new BinaryWriter().tag(1, WireType.LengthDelimited).string("user:a");
    unknownFields(w, 5).tag(2, WireType.LengthDelimited).string("file:f1");
    w.tag(3, WireType.LengthDelimited).string("read").tag(1, WireType.LengthDelimited).string("user:b");
    w.tag(4, WireType.Varint).int64("42");
    expect(decodeCheckRequest(Buffer.from(w.finish()))).toEqual({
      subject: "user:b",
      resource: "file:f1",
      permission: "read",
      minRevision: "42",
    });
    const wrong = new BinaryWriter().tag(2, WireType.Varint).uint32(7).finish();
    expect(() => decodeCheckRequest(Buffer.from(wrong))).toThrow(/wire type/);
    const wrongRevision = new BinaryWriter().tag(4, WireType.LengthDelimited).string("1").finish();
    expect(() => decodeCheckRequest(Buffer.from(wrongRevision))).toThrow(/min_revision/);
  });
});

describe("CheckResponse encoding", () => {
  it("writes what ts-proto writes, byte for byte, as revisions change and come back", () => {
    const encode = checkResponseEncoder();
    const seen = ["0", "1", "1", "127", "128", "0", String(2 ** 31), String(2 ** 32 + 5)];
    const more = [String(Number.MAX_SAFE_INTEGER), "9007199254740993", "9223372036854775807", "128"];
    for (const revision of [...seen, ...more]) {
      for (const allowed of [true, false, true]) {
        const want = Buffer.from(CheckResponse.encode({ allowed, revision }).finish()).toString("hex");
        expect([revision, allowed, encode({ allowed, revision }).toString("hex")]).toEqual([
          revision,
          allowed,
          want,
        ]);
      }
    }
  });

  it("hands out the kept bytes while the revision stays", () => {
    const encode = checkResponseEncoder();
    const a = encode({ allowed: true, revision: "7" });
    expect(encode({ allowed: true, revision: "7" })).toBe(a);
    expect(encode({ allowed: false, revision: "7" })).not.toBe(a);
    expect(encode({ allowed: true, revision: "8" })).not.toBe(a);
  });
});
