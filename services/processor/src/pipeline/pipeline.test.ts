import { crc32 } from "node:zlib";
import { createLogger } from "@filemesh/kit";
import { thumbnailKey } from "@filemesh/kit/blob";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { checkObjectKey } from "./blob-access.js";
import { runPipeline, UPLOAD_STEPS } from "./pipeline.js";
import { looksLikeText, sniffContentType } from "./sniff-step.js";
import { reject, type Step, type StepDeps, type UploadJob } from "./step.js";
import { MAX_PIXELS, makeThumbnail } from "./thumbnail-step.js";

const job: UploadJob = {
  fileId: "f",
  versionId: "v",
  objectKey: "ab/cd/00000000-0000-4000-8000-0000000000cd",
  sizeBytes: 1n,
  sha256: "0".repeat(64),
  name: "x",
};
const deps = { log: createLogger({ service: "test", level: "silent" }) } as unknown as StepDeps;

describe("runPipeline", () => {
  it("declares sniff, verify, thumbnail in that order", () => {
    expect(UPLOAD_STEPS.map((s) => s.name)).toEqual(["sniff", "verify", "thumbnail"]);
  });

  it("runs steps in order, merges findings and stops at the first rejection", async () => {
    const ran: string[] = [];
    const step = (name: string, out: Awaited<ReturnType<Step["run"]>>): Step => ({
      name,
      async run(_job, findings) {
        ran.push(`${name}:${findings.contentType}`);
        return out;
      },
    });
    const ready = await runPipeline(
      [
        step("a", { findings: { contentType: "image/png" } }),
        step("b", undefined),
        step("c", { findings: { hasThumbnail: true } }),
      ],
      job,
      deps,
    );
    expect(ready).toEqual({ state: "READY", contentType: "image/png", hasThumbnail: true });
    expect(ran).toEqual(["a:application/octet-stream", "b:image/png", "c:image/png"]);
    ran.length = 0;
    const rejected = await runPipeline(
      [step("a", undefined), step("scan", reject("INFECTED", "no")), step("c", undefined)],
      job,
      deps,
    );
    expect(rejected).toMatchObject({ state: "REJECTED", step: "scan", rejection: { code: "INFECTED" } });
    expect(ran).toEqual(["a:application/octet-stream", "scan:application/octet-stream"]);
  });
});

describe("content sniffing", () => {
  it("knows formats by their magic numbers", async () => {
    const cases: [number[], string][] = [
      [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52], "image/png"],
      [[0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0], "image/jpeg"],
      [[0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0], "image/gif"],
      [[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3], "application/gzip"],
    ];
    for (const [bytes, mime] of cases) expect(await sniffContentType(Buffer.from(bytes))).toBe(mime);
    expect(await sniffContentType(Buffer.from("#!/bin/sh\necho hi\n"))).toBe("text/plain; charset=utf-8");
    expect(await sniffContentType(Buffer.from([0, 1, 2, 3, 250, 251]))).toBe("application/octet-stream");
    expect(await sniffContentType(Buffer.alloc(0))).toBe("application/octet-stream");
  });

  it("treats UTF-8 cut mid-character as text, and controls or bad UTF-8 as binary", () => {
    const euro = Buffer.from("price: 5€");
    expect(looksLikeText(euro.subarray(0, euro.length - 1))).toBe(true);
    expect(looksLikeText(Buffer.from("tab\tnew\nline\r\n"))).toBe(true);
    expect(looksLikeText(Buffer.from([0x61, 0x00, 0x62]))).toBe(false);
    expect(looksLikeText(Buffer.from([0x61, 0xc3, 0x28, 0x62, 0x63, 0x64]))).toBe(false);
  });
});

describe("makeThumbnail", () => {
  it("shrinks an image and skips one with more pixels than MAX_PIXELS without decoding it", async () => {
    const small = await sharp({ create: { width: 600, height: 300, channels: 3, background: "#808080" } })
      .png()
      .toBuffer();
    expect(await sharp((await makeThumbnail(small, 100))!).metadata()).toMatchObject({
      width: 100,
      height: 50,
    });
    // A decompression bomb: a tiny PNG whose header claims 20000 × 20000 pixels.
    const bomb = Buffer.from(small);
    bomb.writeUInt32BE(20_000, 16);
    bomb.writeUInt32BE(20_000, 20);
    bomb.writeUInt32BE(crc32(bomb.subarray(12, 29)), 29);
    expect(20_000 * 20_000).toBeGreaterThan(MAX_PIXELS);
    expect(await makeThumbnail(bomb, 100)).toBeUndefined();
  });
});

describe("thumbnailKey", () => {
  it("is a server-style key, stable per object and distinct from it", () => {
    const key = thumbnailKey(job.objectKey);
    expect(checkObjectKey(key)).toBe(key);
    expect(thumbnailKey(job.objectKey)).toBe(key);
    expect(key).not.toBe(job.objectKey);
    expect(thumbnailKey("ab/cd/00000000-0000-4000-8000-0000000000ce")).not.toBe(key);
  });
});
