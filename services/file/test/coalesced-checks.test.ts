// One-file permission checks are coalesced per user and turn of the event loop
// (peers/access.ts). Against the real permission service, many users' calls in flight at once
// must each get exactly their own answers: no user's allow reaches another's call, a viewer
// can read but not delete, and a stranger's call in the same burst finds nothing.
import { decodeServiceError } from "@filemesh/kit";
import { status } from "@grpc/grpc-js";
import { beforeAll, describe, expect, it } from "vitest";
import { rpc, useFileMesh } from "./start-file.js";

const t = useFileMesh();
type User = Awaited<ReturnType<typeof t.mesh.newUser>>;
let users: User[];
let files: string[][];
let viewer: User;

beforeAll(async () => {
  users = [];
  for (let i = 0; i < 4; i++) users.push(await t.mesh.newUser());
  viewer = await t.mesh.newUser();
  files = [];
  for (const u of users) {
    const folder = await t.folder(u.headers, "own");
    const mine: string[] = [];
    for (let j = 0; j < 3; j++) mine.push((await t.upload(u.headers, `f${j}`, "x", folder.id)).id);
    files.push(mine);
    await t.grant(u.headers, folder.id, `user:${viewer.userId}`, "viewer");
  }
});

/** "ok", or the failure's gRPC status name and reason. */
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (err) => {
      const f = decodeServiceError(err);
      return `${status[f.code]} ${f.reason}`;
    },
  );

describe("coalesced checks", () => {
  it("answer each caller about its own access, whoever else asks in the same turn", async () => {
    // Every user asks for every user's files at once, several times over, with the viewer
    // (read on all of them) and a stranger (nothing) in the same burst.
    const stranger = await t.mesh.newUser();
    const asks: { who: string; mine: boolean; p: Promise<string> }[] = [];
    for (let round = 0; round < 3; round++) {
      users.forEach((u, i) => {
        files.forEach((theirs, j) => {
          for (const fileId of theirs) {
            asks.push({
              who: `user${i}`,
              mine: i === j,
              p: outcome(rpc(t.f, t.f.getFile, { fileId }, u.headers)),
            });
            asks.push({
              who: "viewer",
              mine: true,
              p: outcome(rpc(t.f, t.f.getFile, { fileId }, viewer.headers)),
            });
            asks.push({
              who: "stranger",
              mine: false,
              p: outcome(rpc(t.f, t.f.getFile, { fileId }, stranger.headers)),
            });
          }
        });
      });
    }
    const got = await Promise.all(asks.map((a) => a.p));
    asks.forEach((a, k) => {
      expect(`${a.who}: ${got[k]}`).toBe(`${a.who}: ${a.mine ? "ok" : "NOT_FOUND FILE_NOT_FOUND"}`);
    });
  });

  it("keep read and delete apart within one burst: the viewer reads all, deletes none", async () => {
    const fileIds = files.flat();
    const reads = fileIds.map((fileId) => outcome(rpc(t.f, t.f.getFile, { fileId }, viewer.headers)));
    const deletes = fileIds.map((fileId) =>
      outcome(rpc(t.f, t.f.deleteFile, { fileId, permanent: false, etag: "" }, viewer.headers)),
    );
    const ownerReads = fileIds.map((fileId, k) =>
      outcome(rpc(t.f, t.f.getFile, { fileId }, users[Math.floor(k / 3)]!.headers)),
    );
    expect(await Promise.all(reads)).toEqual(fileIds.map(() => "ok"));
    expect(await Promise.all(deletes)).toEqual(fileIds.map(() => "PERMISSION_DENIED DELETE_DENIED"));
    expect(await Promise.all(ownerReads)).toEqual(fileIds.map(() => "ok"));
  });
});
