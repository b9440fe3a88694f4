// A completion interrupted by a crash (test/faults found it: kill -9 of a file replica during
// WriteUpload's finish_write left the session COMPLETING until it expired, every retry refused
// with FAILED_PRECONDITION and its quota reserved all that time). A live completion answers
// retries ABORTED + RetryInfo; once its lease runs out the session is ACTIVE again and a retry
// completes it, releasing the reservation.
import { createHash, randomBytes } from "node:crypto";
import { filev1 } from "@filemesh/contracts";
import { failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { expect, it } from "vitest";
import { rpc, send, useFileMesh } from "./start-file.js";

/** Shorter than the 30 s default (COMPLETION_LEASE): a lease 9 s old has run out only if it is honoured. */
const COMPLETION_LEASE_MS = 8_000;
const t = useFileMesh({ env: { COMPLETION_LEASE: `${COMPLETION_LEASE_MS}ms` } });

/** A parts session with every part stored: what a completion starts from. */
async function sessionWithAllBytes() {
  const a = await t.mesh.newUser();
  const data = randomBytes(4096);
  const sha256 = createHash("sha256").update(data).digest("hex");
  const { upload } = await rpc(
    t.f,
    t.f.createUpload,
    filev1.CreateUploadRequest.fromPartial({
      name: "lease.bin",
      sizeBytes: String(data.length),
      sha256,
      method: filev1.UploadMethod.UPLOAD_METHOD_PARTS,
    }),
    a.headers,
  );
  const uploadId = upload!.id;
  await send(
    t.f,
    t.f.uploadPart,
    [filev1.UploadPartRequest.fromPartial({ uploadId, partNumber: 1, body: { data } })],
    a.headers,
  );
  return { a, uploadId, sha256, size: data.length };
}

/** What a process killed after taking the completion leaves behind, its lease `ageMs` old. */
const crashedCompleting = (uploadId: string, ageMs: number) =>
  t.db.query(
    "UPDATE files.uploads SET state = 5, lease_time = clock_timestamp() - make_interval(secs => $2::float8 / 1000) WHERE id = $1",
    [uploadId, ageMs],
  );

const reserved = async (userId: string) =>
  Number(
    (await t.db.query("SELECT reserved_bytes FROM files.usage WHERE user_id = $1", [userId])).rows[0]
      ?.reserved_bytes ?? 0,
  );

it("answers ABORTED with RetryInfo while a completion holds its lease", async () => {
  const { a, uploadId, size } = await sessionWithAllBytes();
  await crashedCompleting(uploadId, 1_000);
  const err = await failure(rpc(t.f, t.f.completeUpload, { uploadId, parts: [] }, a.headers));
  expect(err).toMatchObject({ code: status.ABORTED, reason: "UPLOAD_COMPLETING" });
  expect(err.retryAfterMs).toBeGreaterThan(0);
  // A part sent meanwhile is refused alike (the session takes no bytes while completing).
  const write = await failure(
    send(
      t.f,
      t.f.uploadPart,
      [filev1.UploadPartRequest.fromPartial({ uploadId, partNumber: 1, body: { data: randomBytes(size) } })],
      a.headers,
    ),
  );
  expect(write).toMatchObject({ code: status.ABORTED, reason: "UPLOAD_COMPLETING" });
  expect(await reserved(a.userId)).toBe(size);
});

it("completes a session whose completion died, once its lease ran out", async () => {
  const { a, uploadId, sha256, size } = await sessionWithAllBytes();
  await crashedCompleting(uploadId, COMPLETION_LEASE_MS + 1_000);
  const { file } = await rpc(t.f, t.f.completeUpload, { uploadId, parts: [] }, a.headers);
  expect(file).toMatchObject({ sha256, sizeBytes: String(size) });
  expect(await reserved(a.userId)).toBe(0);
});

it("renews the lease of a completion in progress", async () => {
  const { a, uploadId } = await sessionWithAllBytes();
  await crashedCompleting(uploadId, COMPLETION_LEASE_MS + 1_000);
  // A renewal (what a live completion does every third of the lease) keeps it held.
  await t.db.query("UPDATE files.uploads SET lease_time = clock_timestamp() WHERE id = $1", [uploadId]);
  const err = await failure(rpc(t.f, t.f.completeUpload, { uploadId, parts: [] }, a.headers));
  expect(err).toMatchObject({ code: status.ABORTED, reason: "UPLOAD_COMPLETING" });
});
