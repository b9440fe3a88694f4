// Issue 12, attack 5 on the native paths: an upload that began while the uploader could write
// to the folder and ends after the grant was revoked commits nothing. WriteUpload is asked
// again when a (resumed) stream starts and at finish_write; UploadFile (the raw body) at its
// commit. The owner's file keeps its bytes and the uploader's usage is what it was.
import { filev1 } from "@filemesh/contracts";
import { failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  collect,
  type FileTestMesh,
  metadataOf,
  open,
  rawUpload,
  rpc,
  send,
  useFileMesh,
} from "./start-file.js";

const PART = 4;
const t = useFileMesh({ env: { UPLOAD_PART_BYTES: String(PART) } });

type User = Awaited<ReturnType<FileTestMesh["mesh"]["newUser"]>>;
type H = Record<string, string>;
const msg = (r: Partial<filev1.WriteUploadRequest>) => filev1.WriteUploadRequest.fromPartial(r);
const usage = async (h: H) => {
  const u = (await rpc(t.f, t.f.getUsage, {}, h)).usage!;
  return { usedBytes: u.usedBytes, reservedBytes: u.reservedBytes, fileCount: u.fileCount };
};
const text = async (h: H, fileId: string) =>
  Buffer.concat(
    (
      await collect(t.f.getFileContent(filev1.GetFileContentRequest.fromPartial({ fileId }), metadataOf(h)))
    ).map((m) => Buffer.from(m.data)),
  ).toString();
/** The decoded status a client stream ended with (fails the test when the call succeeded). */
const ended = (done: Promise<{ err: unknown }>) =>
  failure(
    done.then(({ err }) => {
      if (err) throw err;
    }),
  );
const until = async (what: () => Promise<boolean>) => {
  for (let i = 0; i < 200 && !(await what()); i++) await new Promise((r) => setTimeout(r, 25));
  expect(await what()).toBe(true);
};

/** Alice's folder with her report.txt in it, and Bob an editor of the folder. */
async function scene() {
  const [alice, bob] = [await t.mesh.newUser(), await t.mesh.newUser()];
  const team = await t.folder(alice.headers, "team");
  const report = await t.upload(alice.headers, "report.txt", "alice's report", team.id);
  const { grant } = await t.grant(alice.headers, team.id, `user:${bob.userId}`, "editor");
  const revoke = () =>
    rpc(
      t.mesh.permission,
      t.mesh.permission.deleteGrant,
      { fileId: team.id, grantId: grant!.id },
      alice.headers,
    );
  return { alice, bob, team, report, revoke, before: await usage(bob.headers) };
}

async function streamSession(bob: User, parentId: string, size: number) {
  const { upload } = await rpc(
    t.f,
    t.f.createUpload,
    filev1.CreateUploadRequest.fromPartial({
      parentId,
      name: "report.txt",
      sizeBytes: String(size),
      method: filev1.UploadMethod.UPLOAD_METHOD_STREAM,
    }),
    bob.headers,
  );
  const get = async () => (await rpc(t.f, t.f.getUpload, { uploadId: upload!.id }, bob.headers)).upload!;
  return { id: upload!.id, get };
}

describe("WriteUpload after the grant is revoked", () => {
  it("refuses finish_write on a stream that began before (NOT_FOUND), and ends the session", async () => {
    const s = await scene();
    const data = Buffer.from("BOB'S BYTES!"); // three parts of 4
    const session = await streamSession(s.bob, s.team.id, data.length);
    const w = open(t.f, t.f.writeUpload, s.bob.headers);
    w.stream.write(msg({ uploadId: session.id, writeOffset: "0", data: data.subarray(0, 2 * PART) }));
    await until(async () => (await session.get()).committedSizeBytes === String(2 * PART));
    await s.revoke();
    w.stream.write(msg({ data: data.subarray(2 * PART), finishWrite: true }));
    w.stream.end();
    expect(await ended(w.done)).toMatchObject({
      code: status.NOT_FOUND,
      reason: "FILE_NOT_FOUND",
    });
    expect((await session.get()).state).toBe(filev1.UploadState.UPLOAD_STATE_ABORTED);
    expect(await usage(s.bob.headers)).toEqual(s.before);
    expect(await text(s.alice.headers, s.report.id)).toBe("alice's report");
    const versions = await rpc(
      t.f,
      t.f.listFileVersions,
      { fileId: s.report.id, pageSize: 0, pageToken: "" },
      s.alice.headers,
    );
    expect(versions.versions).toHaveLength(1);
  });

  it("refuses a resumed stream at its start", async () => {
    const s = await scene();
    const data = Buffer.from("12345678");
    const session = await streamSession(s.bob, s.team.id, data.length);
    // Everything sent, not finished; then the grant goes.
    const first = (await send(
      t.f,
      t.f.writeUpload,
      [msg({ uploadId: session.id, writeOffset: "0", data })],
      s.bob.headers,
    )) as filev1.WriteUploadResponse;
    expect(first.committedSizeBytes).toBe("8");
    await s.revoke();
    const resumed = send(
      t.f,
      t.f.writeUpload,
      [msg({ uploadId: session.id, writeOffset: "8", finishWrite: true })],
      s.bob.headers,
    );
    expect(await failure(resumed)).toMatchObject({ code: status.NOT_FOUND, reason: "FILE_NOT_FOUND" });
    expect((await session.get()).state).toBe(filev1.UploadState.UPLOAD_STATE_ABORTED);
    expect(await usage(s.bob.headers)).toEqual(s.before);
    expect(await text(s.alice.headers, s.report.id)).toBe("alice's report");
  });

  it("an editor turned viewer is PERMISSION_DENIED / WRITE_DENIED at finish_write", async () => {
    const s = await scene();
    const session = await streamSession(s.bob, s.team.id, 4);
    const w = open(t.f, t.f.writeUpload, s.bob.headers);
    w.stream.write(msg({ uploadId: session.id, writeOffset: "0", data: Buffer.from("ab") }));
    // The start was allowed (the session is still active) — now Bob becomes a viewer.
    await t.grant(s.alice.headers, s.team.id, `user:${s.bob.userId}`, "viewer");
    w.stream.write(msg({ data: Buffer.from("cd"), finishWrite: true }));
    w.stream.end();
    expect(await ended(w.done)).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "WRITE_DENIED",
    });
    expect(await usage(s.bob.headers)).toEqual(s.before);
    expect(await text(s.alice.headers, s.report.id)).toBe("alice's report");
  });
});

describe("UploadFile after the grant is revoked", () => {
  it("commits nothing and releases what the body reserved", async () => {
    const s = await scene();
    const up = open(t.f, t.f.uploadFile, s.bob.headers);
    // A first message past 1 MiB: a body reserves quota as bytes arrive once it is past its first MiB.
    const body = Buffer.concat([Buffer.alloc(1024 * 1024 + 16, 0x62), Buffer.from("bob's raw bytes")]);
    const [head, ...rest] = rawUpload(s.team.id, "report.txt", body, "", "", 1024 * 1024 + 16);
    up.stream.write(head!);
    // The body is being stored (quota reserved as bytes arrive): the start was allowed.
    await until(async () => (await usage(s.bob.headers)).reservedBytes !== "0");
    await s.revoke();
    for (const m of rest) up.stream.write(m);
    up.stream.end();
    expect(await ended(up.done)).toMatchObject({
      code: status.NOT_FOUND,
      reason: "FILE_NOT_FOUND",
    });
    expect(await usage(s.bob.headers)).toEqual(s.before);
    expect(await text(s.alice.headers, s.report.id)).toBe("alice's report");
  });
});
