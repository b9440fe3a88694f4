// A version the processor never decided (its file_uploaded event lost on the way, e.g. NATS
// killed with -9) gets the event again PROCESSING_REDRIVE_AFTER after its commit, with the same
// content facts; once decided, it is never re-driven again.
import { eventsv1, filev1 } from "@filemesh/contracts";
import { expect, it } from "vitest";
import { rpc, useFileMesh } from "./start-file.js";

const t = useFileMesh({
  ownDatabase: true,
  env: { FILES_READY_ON_COMMIT: "false", PROCESSING_REDRIVE_AFTER: "1s" },
});

const uploadedEvents = async (versionId: string) =>
  (
    await t.db.query(
      "SELECT payload FROM files.outbox WHERE subject = 'filemesh.files.file_uploaded' ORDER BY seq",
    )
  ).rows
    .map((r) => eventsv1.FileUploaded.decode(r.payload))
    .filter((e) => e.versionId === versionId);

it("re-drives a version still PROCESSING, and stops once it is decided", async () => {
  const a = await t.mesh.newUser();
  const f = await t.upload(a.headers, "stuck.txt", "never processed");
  expect(f.state).toBe(filev1.FileState.PROCESSING);
  const first = await uploadedEvents(f.currentVersionId);
  expect(first).toHaveLength(1);
  let events = first;
  for (let i = 0; i < 40 && events.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 250));
    events = await uploadedEvents(f.currentVersionId);
  }
  expect(events.length).toBeGreaterThanOrEqual(2);
  const again = events[1]!;
  expect(again.meta?.eventId).not.toBe(first[0]!.meta?.eventId);
  expect(again).toMatchObject({
    fileId: f.id,
    versionId: f.currentVersionId,
    ownerId: a.userId,
    name: "stuck.txt",
    sizeBytes: String("never processed".length),
    sha256: f.sha256,
    objectKey: first[0]!.objectKey,
    newVersion: false,
  });
  // The processor decides: nothing more is re-driven.
  await rpc(
    t.f,
    t.f.setFileState,
    filev1.SetFileStateRequest.fromPartial({
      fileId: f.id,
      versionId: f.currentVersionId,
      state: filev1.FileState.READY,
      eventId: again.meta!.eventId,
    }),
    t.mesh.serviceHeaders("processor"),
  );
  const decided = (await uploadedEvents(f.currentVersionId)).length;
  await new Promise((r) => setTimeout(r, 2500));
  expect(await uploadedEvents(f.currentVersionId)).toHaveLength(decided);
});
