// With FILES_READY_ON_COMMIT=false files wait in PROCESSING until the processor's internal
// SetFileState; WatchFile follows them; only READY content is served.
import { eventsv1, filev1 } from "@filemesh/contracts";
import { failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { expect, it } from "vitest";
import { collect, metadataOf, rpc, useFileMesh } from "./start-file.js";

const t = useFileMesh({ env: { FILES_READY_ON_COMMIT: "false" } });

const setState = (r: Partial<filev1.SetFileStateRequest>, h: Record<string, string>) =>
  rpc(t.f, t.f.setFileState, filev1.SetFileStateRequest.fromPartial(r), h);

it("serves a file only once the processor marks it READY, and WatchFile follows it", async () => {
  const a = await t.mesh.newUser();
  const f = await t.upload(a.headers, "wait.txt", "soon");
  expect(f.state).toBe(filev1.FileState.PROCESSING);
  const content = () =>
    collect(
      t.f.getFileContent(filev1.GetFileContentRequest.fromPartial({ fileId: f.id }), metadataOf(a.headers)),
    );
  expect(await failure(content())).toMatchObject({
    code: status.FAILED_PRECONDITION,
    reason: "FILE_NOT_READY",
  });
  const watched = collect(t.f.watchFile({ fileId: f.id }, metadataOf(a.headers)));
  await new Promise((r) => setTimeout(r, 300));
  const req = {
    fileId: f.id,
    versionId: f.currentVersionId,
    state: filev1.FileState.READY,
    hasThumbnail: true,
    eventId: "e1",
  };
  expect(await failure(setState(req, a.headers))).toMatchObject({ code: status.UNAUTHENTICATED });
  expect(await failure(setState(req, t.mesh.serviceHeaders("user")))).toMatchObject({
    code: status.PERMISSION_DENIED,
    reason: "CALLER_NOT_ALLOWED",
  });
  const done = (await setState(req, t.mesh.serviceHeaders("processor"))).file!;
  expect(done).toMatchObject({ state: filev1.FileState.READY, hasThumbnail: true });
  expect((await setState(req, t.mesh.serviceHeaders("processor"))).file?.etag).toBe(done.etag); // redelivery
  const states = (await watched).map((m) => m.file?.state);
  expect(states[0]).toBe(filev1.FileState.PROCESSING);
  expect(states[states.length - 1]).toBe(filev1.FileState.READY);
  expect(Buffer.concat((await content()).map((m) => m.data)).toString()).toBe("soon");
  const { rows } = await t.db.query(
    "SELECT payload FROM files.outbox WHERE subject = 'filemesh.files.file_state_changed' ORDER BY seq DESC LIMIT 20",
  );
  const events = rows
    .map((r) => eventsv1.FileStateChanged.decode(r.payload))
    .filter((e) => e.fileId === f.id);
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({ state: "READY", versionId: f.currentVersionId });
});

it("keeps a REJECTED file from being served and tells its owner why", async () => {
  const a = await t.mesh.newUser();
  const f = await t.upload(a.headers, "bad.exe", "MZ");
  await setState(
    {
      fileId: f.id,
      versionId: f.currentVersionId,
      state: filev1.FileState.REJECTED,
      stateReason: "executable",
    },
    t.mesh.serviceHeaders("processor"),
  );
  expect((await rpc(t.f, t.f.getFile, { fileId: f.id }, a.headers)).file).toMatchObject({
    state: filev1.FileState.REJECTED,
    stateReason: "executable",
  });
  const content = collect(
    t.f.getFileContent(filev1.GetFileContentRequest.fromPartial({ fileId: f.id }), metadataOf(a.headers)),
  );
  expect(await failure(content)).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "FILE_REJECTED" });
});
