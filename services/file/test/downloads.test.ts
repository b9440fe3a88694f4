// Downloads on both drivers: whole and ranged content (REST-shaped HttpBody stream and the
// native ReadFile stream), versions, READY-only serving, access, presigned URLs.
import { createHash, randomBytes } from "node:crypto";
import { filev1 } from "@filemesh/contracts";
import { ChunkPool, MAX_UNWRITTEN } from "@filemesh/kit";
import { failure } from "@filemesh/kit/testing";
import { type Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it, vi } from "vitest";
import { collect, metadataOf, rpc, useFileMesh } from "./start-file.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe.each(["fs", "s3"] as const)("downloads (%s driver)", (driver) => {
  const t = useFileMesh({ driver, env: { DOWNLOAD_CHUNK_BYTES: String(64 * 1024) } });

  type H = Record<string, string>;
  const content = async (h: H, r: Partial<filev1.GetFileContentRequest>) => {
    const msgs = await collect(
      t.f.getFileContent(filev1.GetFileContentRequest.fromPartial(r), metadataOf(h)),
    );
    return {
      contentType: msgs[0]?.contentType,
      data: Buffer.concat(msgs.map((m) => m.data)),
      count: msgs.length,
    };
  };

  it("streams whole and ranged content in bounded messages", async () => {
    const a = await t.mesh.newUser();
    const data = randomBytes(300_000);
    const f = await t.upload(a.headers, "data.bin", data);
    const whole = await content(a.headers, { fileId: f.id });
    expect(sha(whole.data)).toBe(sha(data));
    expect(whole.contentType).toBe("application/octet-stream");
    expect(whole.count).toBe(5); // 64 KiB messages
    expect((await content(a.headers, { fileId: f.id, offset: "1000", length: "5000" })).data).toEqual(
      data.subarray(1000, 6000),
    );
    expect((await content(a.headers, { fileId: f.id, offset: "299990" })).data).toEqual(
      data.subarray(299990),
    );
    expect((await content(a.headers, { fileId: f.id, offset: "299990", length: "100" })).data.length).toBe(
      10,
    );
    const atEnd = await content(a.headers, { fileId: f.id, offset: "300000" });
    expect(atEnd).toMatchObject({ contentType: "application/octet-stream", count: 1 });
    expect(atEnd.data.length).toBe(0);
    expect(await failure(content(a.headers, { fileId: f.id, offset: "300001" }))).toMatchObject({
      code: status.OUT_OF_RANGE,
      reason: "OFFSET_OUT_OF_RANGE",
    });
    const native = await collect(
      t.f.readFile(filev1.ReadFileRequest.fromPartial({ fileId: f.id, offset: "10" }), metadataOf(a.headers)),
    );
    expect(native[0]?.file).toMatchObject({ id: f.id, sha256: sha(data) });
    expect(Buffer.concat(native.slice(1).map((m) => m.data!))).toEqual(data.subarray(10));
    // Re-cut into full 64 KiB messages whatever pieces the store reads in; the last one is the rest.
    expect(native.slice(1).map((m) => m.data!.length)).toEqual([
      65536,
      65536,
      65536,
      65536,
      299_990 - 4 * 65536,
    ]);
  });

  it("reuses a few chunks for a long stream, every message intact for a slow reader", async () => {
    const a = await t.mesh.newUser();
    const data = randomBytes(2 * 1024 * 1024 + 123); // 33 messages of at most 64 KiB
    const f = await t.upload(a.headers, "long.bin", data);
    const taken = new Set<Buffer>();
    const take = ChunkPool.prototype.take;
    const spy = vi.spyOn(ChunkPool.prototype, "take").mockImplementation(function (this: ChunkPool, size) {
      const chunk = take.call(this, size);
      taken.add(chunk);
      return chunk;
    });
    try {
      for (const method of ["readFile", "getFileContent"] as const) {
        taken.clear();
        const req = { fileId: f.id };
        const call =
          method === "readFile"
            ? t.f.readFile(filev1.ReadFileRequest.fromPartial(req), metadataOf(a.headers))
            : t.f.getFileContent(filev1.GetFileContentRequest.fromPartial(req), metadataOf(a.headers));
        const parts: Buffer[] = [];
        for await (const m of call as AsyncIterable<{ data?: Buffer }>) {
          if (m.data?.length) parts.push(Buffer.from(m.data));
          await new Promise((r) => setTimeout(r, 2)); // the server's chunks wait for the reader
        }
        expect(sha(Buffer.concat(parts)), method).toBe(sha(data));
        expect(parts.length, method).toBe(33);
        // A chunk comes back once its message is written: a handful for 33 messages.
        expect(taken.size, method).toBeLessThanOrEqual(MAX_UNWRITTEN + 2);
      }
    } finally {
      spy.mockRestore();
    }
  });

  it("ends a long stream whose reader cancelled mid-way (its messages unwritten), counted CANCELLED", async () => {
    const a = await t.mesh.newUser();
    const f = await t.upload(a.headers, "cancelled.bin", randomBytes(4 * 1024 * 1024));
    const admin = `http://127.0.0.1:${t.mesh.runtimes.file[0]!.adminPort}/metrics`;
    const cancelled = async () => {
      const text = await (await fetch(admin)).text();
      const m =
        /^grpc_server_handled_total\{[^}]*grpc_method="ReadFile"[^}]*grpc_code="CANCELLED"[^}]*\} (\S+)$/m.exec(
          text,
        );
      return m ? Number(m[1]) : 0;
    };
    const before = await cancelled();
    const call = t.f.readFile(filev1.ReadFileRequest.fromPartial({ fileId: f.id }), metadataOf(a.headers));
    call.on("error", () => {}); // CANCELLED, as asked
    // Two messages read, then nothing more: the server's stream fills and waits on its writes.
    await new Promise<void>((resolve) => {
      let n = 0;
      call.on("data", () => {
        if (++n === 2) {
          call.pause();
          resolve();
        }
      });
    });
    await new Promise((r) => setTimeout(r, 200));
    call.cancel();
    // The handler ends (its store read closed) rather than waiting for writes that never come, and
    // the call counts as what the caller did, not as OK.
    await expect.poll(cancelled, { timeout: 5_000, interval: 100 }).toBe(before + 1);
  });

  it("sends the HTTP headers of the download as response metadata", async () => {
    const a = await t.mesh.newUser();
    const name = "naïve; filename=evil.html 100%.txt";
    const f = await t.upload(a.headers, name, "0123456789");
    const headersOf = async (r: Partial<filev1.GetFileContentRequest>) => {
      const stream = t.f.getFileContent(filev1.GetFileContentRequest.fromPartial(r), metadataOf(a.headers));
      const md = new Promise<Metadata>((resolve) => stream.on("metadata", resolve));
      await collect(stream);
      const h = await md;
      return (key: string) => h.get(key);
    };
    const whole = await headersOf({ fileId: f.id });
    expect(whole("content-disposition")).toEqual([
      `attachment; filename="na_ve; filename=evil.html 100%.txt"; filename*=UTF-8''${encodeURIComponent(name)}`,
    ]);
    expect(whole("x-content-type-options")).toEqual(["nosniff"]);
    expect(whole("x-content-length")).toEqual(["10"]);
    const ranged = await headersOf({ fileId: f.id, offset: "4", length: "100" });
    expect(ranged("x-content-length")).toEqual(["6"]);
  });

  it("serves an older version by id, and only READY content", async () => {
    const a = await t.mesh.newUser();
    const v1 = await t.upload(a.headers, "doc.txt", "first version");
    const v2 = await t.upload(a.headers, "doc.txt", "second");
    expect((await content(a.headers, { fileId: v1.id })).data.toString()).toBe("second");
    expect(
      (await content(a.headers, { fileId: v1.id, versionId: v1.currentVersionId })).data.toString(),
    ).toBe("first version");
    expect(
      await failure(content(a.headers, { fileId: v1.id, versionId: "00000000-0000-4000-8000-000000000000" })),
    ).toMatchObject({
      code: status.NOT_FOUND,
      reason: "VERSION_NOT_FOUND",
    });
    // A version id that is not a UUID names no version: the same answer, from every download RPC.
    expect(await failure(content(a.headers, { fileId: v1.id, versionId: "not-a-uuid" }))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "VERSION_NOT_FOUND",
    });
    expect(
      await failure(
        rpc(
          t.f,
          t.f.createDownloadTicket,
          { fileId: v1.id, versionId: "'; DROP TABLE x", offset: "", length: "" },
          a.headers,
        ),
      ),
    ).toMatchObject({ code: status.NOT_FOUND, reason: "VERSION_NOT_FOUND" });
    await t.db.query("UPDATE files.files SET state = 2 WHERE id = $1", [v2.id]);
    expect(await failure(content(a.headers, { fileId: v2.id }))).toMatchObject({
      code: status.FAILED_PRECONDITION,
      reason: "FILE_NOT_READY",
    });
    const dir = await rpc(t.f, t.f.createFolder, { parentId: "", name: "dir", requestId: "" }, a.headers);
    expect(await failure(content(a.headers, { fileId: dir.file!.id }))).toMatchObject({
      reason: "NOT_A_FILE",
    });
  });

  it("lets readers download and hides the file from strangers", async () => {
    const [a, b, s] = [await t.mesh.newUser(), await t.mesh.newUser(), await t.mesh.newUser()];
    const f = await t.upload(a.headers, "shared.txt", "shared text");
    expect(await failure(content(s.headers, { fileId: f.id }))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "FILE_NOT_FOUND",
    });
    expect(
      await failure(rpc(t.f, t.f.getDownloadUrl, { fileId: f.id, versionId: "" }, s.headers)),
    ).toMatchObject({
      code: status.NOT_FOUND,
    });
    // Nothing about versions is told before access is checked: a stranger naming a version
    // (real or not) gets FILE_NOT_FOUND, like for the file itself, from the ticket RPC too.
    for (const versionId of [f.currentVersionId, "00000000-0000-4000-8000-000000000000", "junk"]) {
      expect(await failure(content(s.headers, { fileId: f.id, versionId }))).toMatchObject({
        reason: "FILE_NOT_FOUND",
      });
      expect(
        await failure(
          rpc(t.f, t.f.createDownloadTicket, { fileId: f.id, versionId, offset: "", length: "" }, s.headers),
        ),
      ).toMatchObject({ reason: "FILE_NOT_FOUND" });
    }
    await t.grant(a.headers, f.id, `user:${b.userId}`, "viewer");
    expect((await content(b.headers, { fileId: f.id })).data.toString()).toBe("shared text");
    const ticket = await rpc(
      t.f,
      t.f.createDownloadTicket,
      { fileId: f.id, versionId: "", offset: "", length: "" },
      b.headers,
    );
    expect(ticket.length).toBe(String("shared text".length));
    expect(await failure(content({}, { fileId: f.id }))).toMatchObject({ code: status.UNAUTHENTICATED });
  });

  it("gives a short-lived presigned URL (s3) or a clear refusal (fs)", async () => {
    const a = await t.mesh.newUser();
    const f = await t.upload(a.headers, "résumé final.txt", "presigned bytes");
    const call = rpc(t.f, t.f.getDownloadUrl, { fileId: f.id, versionId: "" }, a.headers);
    if (driver === "fs") {
      expect(await failure(call)).toMatchObject({
        code: status.FAILED_PRECONDITION,
        reason: "PRESIGN_UNSUPPORTED",
      });
      return;
    }
    const { url, expireTime } = await call;
    expect(expireTime!.getTime()).toBeLessThanOrEqual(Date.now() + 15 * 60_000);
    // Without CDN_* (services/file/test/cdn.test.ts) it is MinIO's own presigned GET, and so is
    // the URL of a download ticket.
    expect(url.startsWith(`${t.minio!.endpoint}/`)).toBe(true);
    expect(new URL(url).searchParams.get("X-Amz-Expires")).toBe("300");
    const ticket = await rpc(
      t.f,
      t.f.createDownloadTicket,
      filev1.CreateDownloadTicketRequest.fromPartial({ fileId: f.id }),
      a.headers,
    );
    expect(ticket.url.startsWith(`${t.minio!.endpoint}/`)).toBe(true);
    expect(new URL(ticket.url).searchParams.get("X-Amz-Expires")).toBe("60");
    // The version it serves, for a later ticket pinned to it (a resumed download).
    expect(ticket.versionId).toBe(f.currentVersionId);
    expect(ticket.versionId).not.toBe("");
    const res = await fetch(url);
    expect(await res.text()).toBe("presigned bytes");
    expect(res.headers.get("content-disposition")).toMatch(
      /^attachment; filename="r_sum_ final.txt"; filename\*=UTF-8''r%C3%A9sum%C3%A9%20final.txt/,
    );
    expect((await fetch(url, { method: "PUT", body: "x" })).status).toBe(403);
  });
});
