// Upload → processor → file state, end to end on the real file service (FILES_READY_ON_COMMIT=false),
// on the fs driver and on S3 (a MinIO the test starts). The uploads are made while no processor
// runs and one object is overwritten in the store before it starts: the events wait in FILES,
// then each file ends READY or REJECTED once.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { filev1, processorv1 } from "@filemesh/contracts";
import { createLogger } from "@filemesh/kit";
import { thumbnailKey } from "@filemesh/kit/blob";
import { call, startTestMinio, type TestMinio, uniqueId } from "@filemesh/kit/testing";
import { credentials } from "@grpc/grpc-js";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Processor, startProcessor } from "../src/app.js";
import { loadProcessorConfig } from "../src/config.js";
import { createBlobs } from "../src/pipeline/blob-access.js";
import { eventually, type ProcessorMesh, startProcessorMesh } from "./support.js";
import { fakePng, noisePng, uploadFile } from "./uploads-support.js";

describe.each(["fs", "s3"] as const)("uploads through the processor (%s)", (driver) => {
  let pm: ProcessorMesh;
  let proc: Processor | undefined;
  let minio: TestMinio | undefined;
  const blobDir = mkdtempSync(join(tmpdir(), "filemesh-uploads-"));
  let blobEnv: Record<string, string> = { BLOB_DRIVER: "fs", BLOB_DIR: blobDir };

  beforeAll(async () => {
    if (driver === "s3") {
      minio = await startTestMinio();
      blobEnv = minio.env(uniqueId("proc").toLowerCase());
    }
    pm = await startProcessorMesh({
      services: ["auth", "permission", "user", "file"],
      serviceEnv: { file: { ...blobEnv, FILES_READY_ON_COMMIT: "false" } },
    });
  });

  afterAll(async () => {
    await proc?.runtime.shutdown("test end");
    await pm?.stop();
    await minio?.stop();
    rmSync(blobDir, { recursive: true, force: true });
  });

  async function objectKeyOf(versionId: string): Promise<string> {
    const { rows } = await pm.pool.query("SELECT object_key FROM files.versions WHERE id = $1", [versionId]);
    return rows[0].object_key;
  }

  it("brings every upload to its final state once, with type, thumbnail and reason", async () => {
    const { mesh } = pm;
    const u = await mesh.newUser();
    const up = (name: string, data: Buffer) => uploadFile(mesh.file, u.headers, name, data);
    const image = await up("photo.txt", await noisePng(640, 480));
    const text = await up("notes.png", Buffer.from("meeting notes\nnothing else\n"));
    const fake = await up("fake.png", await fakePng());
    const corrupt = await up("corrupt.bin", Buffer.from("original content of the upload"));
    for (const f of [image, text, fake, corrupt]) expect(f.state).toBe(filev1.FileState.PROCESSING);
    // The bytes change in the store after the commit: the checksum step must notice.
    const config = loadProcessorConfig({
      ...mesh.env,
      ...blobEnv,
      RETRY_BACKOFF: "100ms",
      LOG_LEVEL: "silent",
    });
    const blobs = createBlobs(config);
    await blobs.put(
      await objectKeyOf(corrupt.currentVersionId),
      Readable.from([Buffer.from("0riginal content of the upload")]),
    );
    proc = await startProcessor(config, createLogger({ service: "processor", level: "silent" }));
    const admin = new processorv1.ProcessorServiceClient(
      `127.0.0.1:${proc.runtime.port}`,
      credentials.createInsecure(),
    );
    const listAudit = (req: Parameters<ProcessorMesh["listAudit"]>[0]) => pm.listAudit(req, admin);

    const get = (f: filev1.File) =>
      call(mesh.file.getFile.bind(mesh.file), { fileId: f.id }, u.headers).then((r) => r.file!);
    const final = (f: filev1.File) =>
      eventually(`${f.name} final`, async () => {
        const now = await get(f);
        return now.state === filev1.FileState.READY || now.state === filev1.FileState.REJECTED
          ? now
          : undefined;
      });

    expect(await final(image)).toMatchObject({
      state: filev1.FileState.READY,
      contentType: "image/png",
      hasThumbnail: true,
      stateReason: "",
    });
    const chunks: Buffer[] = [];
    for await (const c of await blobs.get(thumbnailKey(await objectKeyOf(image.currentVersionId)))) {
      chunks.push(c as Buffer);
    }
    const thumb = Buffer.concat(chunks);
    expect(await sharp(thumb).metadata()).toMatchObject({ format: "webp", width: 256, height: 192 });
    expect(await final(text)).toMatchObject({
      state: filev1.FileState.READY,
      contentType: "text/plain; charset=utf-8",
      hasThumbnail: false,
    });
    expect(await final(fake)).toMatchObject({
      state: filev1.FileState.REJECTED,
      stateReason: expect.stringMatching(/^IMAGE_UNREADABLE: /),
    });
    expect(await final(corrupt)).toMatchObject({
      state: filev1.FileState.REJECTED,
      stateReason: expect.stringMatching(/^CHECKSUM_MISMATCH: /),
    });

    // Exactly one state change per version, and the audit log has each of them once.
    for (const f of [image, text, fake, corrupt]) {
      const changes = await eventually(`the audit of ${f.name}`, async () => {
        const r = await listAudit({ resource: `file:${f.id}`, type: "filemesh.files.file_state_changed" });
        return r.events.length > 0 ? r.events : undefined;
      });
      expect(changes).toHaveLength(1);
      expect(JSON.parse(changes[0]!.payloadJson)).toMatchObject({ versionId: f.currentVersionId });
      const uploaded = await listAudit({ resource: `file:${f.id}`, type: "filemesh.files.file_uploaded" });
      expect(uploaded.events).toHaveLength(1);
    }
    const { rows } = await pm.pool.query(
      "SELECT state, count(*)::int AS n FROM jobs.upload_results GROUP BY state ORDER BY state",
    );
    expect(rows).toEqual([
      { state: "READY", n: 2 },
      { state: "REJECTED", n: 2 },
    ]);
    admin.close();
  });
});
