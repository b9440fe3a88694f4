// Issue 12: WatchFile streams are bounded — per user and per replica (RESOURCE_EXHAUSTED with
// TOO_MANY_WATCHES / WATCH_CAPACITY beyond), a revoked watcher's stream ends with NOT_FOUND
// within WATCH_RECHECK_INTERVAL, and no stream outlives WATCH_MAX_LIFETIME. Files stay in
// PROCESSING here (FILES_READY_ON_COMMIT=false), so a watch would otherwise never end.
import { filev1 } from "@filemesh/contracts";
import { failure } from "@filemesh/kit/testing";
import type { ClientReadableStream } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { expect, it } from "vitest";
import { collect, metadataOf, rpc, useFileMesh } from "./start-file.js";

const t = useFileMesh({
  env: {
    FILES_READY_ON_COMMIT: "false",
    WATCH_STREAMS_PER_USER: "2",
    WATCH_STREAMS_PER_PROCESS: "5",
    WATCH_RECHECK_INTERVAL: "300ms",
    WATCH_MAX_LIFETIME: "5s",
  },
});

type H = Record<string, string>;
const fileOf = (h: H, parentId = "") => t.upload(h, `w-${Math.random()}`, "x", parentId);

/** A watch that has delivered its first message (so the server holds its slot). */
async function watching(h: H, fileId: string) {
  const stream = t.f.watchFile({ fileId }, metadataOf(h));
  const all = collect(stream);
  all.catch(() => {}); // awaited by the test that cares; cancelled streams reject
  await new Promise<void>((resolve, reject) => {
    stream.once("data", () => resolve());
    stream.once("error", reject);
  });
  return { stream, all };
}
const refused = (h: H, fileId: string) => failure(collect(t.f.watchFile({ fileId }, metadataOf(h))));
const close = (streams: ClientReadableStream<unknown>[]) => {
  for (const s of streams) s.cancel();
};

it("caps open watches per user and per replica; a closed one frees its slot", async () => {
  const [a, b, c] = [await t.mesh.newUser(), await t.mesh.newUser(), await t.mesh.newUser()];
  const [fa, fb, fc] = [await fileOf(a.headers), await fileOf(b.headers), await fileOf(c.headers)];
  const a1 = await watching(a.headers, fa.id);
  const a2 = await watching(a.headers, fa.id);
  expect(await refused(a.headers, fa.id)).toMatchObject({
    code: status.RESOURCE_EXHAUSTED,
    reason: "TOO_MANY_WATCHES",
  });
  const b1 = await watching(b.headers, fb.id);
  const b2 = await watching(b.headers, fb.id);
  const c1 = await watching(c.headers, fc.id);
  // Five open on this replica: c is under its own cap, but the replica is full.
  expect(await refused(c.headers, fc.id)).toMatchObject({
    code: status.RESOURCE_EXHAUSTED,
    reason: "WATCH_CAPACITY",
  });
  close([a1.stream]);
  let again: Awaited<ReturnType<typeof watching>> | undefined;
  for (let i = 0; i < 100 && !again; i++) {
    again = await watching(c.headers, fc.id).catch(() => undefined);
    if (!again) await new Promise((r) => setTimeout(r, 50));
  }
  expect(again).toBeDefined();
  close([a2.stream, b1.stream, b2.stream, c1.stream, again!.stream]);
});

it("ends a revoked watcher's stream with NOT_FOUND", async () => {
  const [alice, bob] = [await t.mesh.newUser(), await t.mesh.newUser()];
  const folder = await t.folder(alice.headers, "watched");
  const f = await fileOf(alice.headers, folder.id);
  const { grant } = await t.grant(alice.headers, folder.id, `user:${bob.userId}`, "viewer");
  const w = await watching(bob.headers, f.id);
  const owner = await watching(alice.headers, f.id);
  await rpc(
    t.mesh.permission,
    t.mesh.permission.deleteGrant,
    { fileId: folder.id, grantId: grant!.id },
    alice.headers,
  );
  expect(await failure(w.all)).toMatchObject({
    code: status.NOT_FOUND,
    reason: "FILE_NOT_FOUND",
  });
  // The owner's watch goes on (until its lifetime ends, cleanly).
  expect(await owner.all).toHaveLength(1);
});

it("ends a stream after WATCH_MAX_LIFETIME, cleanly, with what it saw", async () => {
  const a = await t.mesh.newUser();
  const f = await fileOf(a.headers);
  const seen = await collect(t.f.watchFile({ fileId: f.id }, metadataOf(a.headers)));
  expect(seen.map((m) => m.file?.state)).toEqual([filev1.FileState.PROCESSING]);
});
