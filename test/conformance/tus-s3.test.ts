// tus on the s3 driver (MinIO) with two file-service replicas on one database: chunks smaller
// than S3's 5 MiB part minimum (the tail object carries them), an upload resumed on the other
// replica, round-robin through the gateway, the janitor's ExpireUploads on tus uploads, and the
// kit's rate limit on tus requests.
import { randomBytes } from "node:crypto";
import {
  call as grpcCall,
  liftedRateLimits,
  startTestMinio,
  type TestMinio,
  uniqueId,
} from "@filemesh/kit/testing";
import pg from "pg";
import * as tus from "tus-js-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileRuntime } from "../../services/file/src/app.js";
import { fileClient, sha } from "./file-client.js";
import { startTarget, type Target } from "./target.js";

const MiB = 1024 * 1024;
const UPLOAD_RATE = 10;
const UPLOAD_BURST = 20;
let t: Target;
let minio: TestMinio;
const bucket = uniqueId("tus")
  .toLowerCase()
  .replace(/[^a-z0-9-]/g, "-");

beforeAll(async () => {
  minio = await startTestMinio();
  t = await startTarget({
    services: ["auth", "user", "permission", "file"],
    replicas: { file: 2 },
    serviceEnv: {
      file: {
        ...minio.env(bucket),
        RATE_LIMITS: liftedRateLimits({ upload: `${UPLOAD_RATE}/1s:${UPLOAD_BURST}` }),
      },
    },
  });
}, 180_000);
afterAll(async () => {
  await t?.stop();
  await minio?.stop();
});

const { signup, call, raw } = fileClient(() => t.base);
const TUS = { "tus-resumable": "1.0.0" };
const replica = (i: number) => `http://127.0.0.1:${(t.mesh!.runtimes.file[i] as FileRuntime).httpPort}`;

function upload(data: Buffer, o: Partial<tus.UploadOptions>): Promise<tus.Upload> {
  return new Promise((resolve, reject) => {
    const u: tus.Upload = new tus.Upload(data, {
      retryDelays: [],
      ...o,
      onSuccess: () => resolve(u),
      onError: (err) => reject(err),
    });
    u.start();
  });
}

async function fileOf(auth: Record<string, string>, url: string) {
  const up = await call("GET", `/v1/uploads/${url.split("/").pop()}`, auth);
  expect(up.body.state).toBe("UPLOAD_STATE_COMPLETED");
  return up.body.fileId as string;
}

describe("tus on s3 with two replicas", () => {
  it("3 MiB chunks (below the S3 part minimum) on one replica, resumed on the other", async () => {
    const a = await signup();
    const data = randomBytes(13 * MiB + 12345);
    let url = "";
    await new Promise<void>((resolve, reject) => {
      const u: tus.Upload = new tus.Upload(data, {
        endpoint: `${replica(0)}/v1/tus/`,
        headers: a.auth,
        metadata: { filename: "s3.bin" },
        chunkSize: 3 * MiB,
        retryDelays: [],
        onChunkComplete: (_size, accepted) => {
          if (accepted >= 6 * MiB && !url) {
            url = u.url ?? "";
            u.abort().then(resolve, reject);
          }
        },
        onSuccess: () => reject(new Error("finished before the abort")),
        onError: reject,
      });
      u.start();
    });
    const path = new URL(url).pathname;
    const head = await fetch(`${replica(1)}${path}`, { method: "HEAD", headers: { ...TUS, ...a.auth } });
    expect(head.status).toBe(200);
    expect(head.headers.get("upload-offset")).toBe(String(6 * MiB));
    const offsets: string[] = [];
    await upload(data, {
      uploadUrl: `${replica(1)}${path}`,
      headers: a.auth,
      chunkSize: 3 * MiB,
      onBeforeRequest: (req) => {
        if (req.getMethod() === "PATCH") offsets.push(req.getHeader("Upload-Offset") ?? "");
      },
    });
    expect(offsets[0]).toBe(String(6 * MiB));
    const fileId = await fileOf(a.auth, url);
    const got = await raw("GET", `/v1/files/${fileId}/content`, a.auth);
    expect(sha(got.bytes)).toBe(sha(data));
  }, 120_000);

  it("1 MiB chunks round-robin over both replicas through the gateway", async () => {
    const a = await signup();
    const data = randomBytes(7 * MiB + 3);
    const u = await upload(data, {
      endpoint: `${t.base}/v1/tus/`,
      headers: a.auth,
      metadata: { filename: "rr.bin" },
      chunkSize: MiB,
    });
    expect(u.url).toMatch(new RegExp(`^${t.base}/v1/tus/`));
    const fileId = await fileOf(a.auth, u.url ?? "");
    const file = await call("GET", `/v1/files/${fileId}`, a.auth);
    expect(file.body).toMatchObject({ sizeBytes: String(data.length), sha256: sha(data) });
  }, 120_000);

  it("the janitor's ExpireUploads expires tus uploads: reservation released, tail object dropped", async () => {
    const a = await signup();
    const c = await fetch(`${t.base}/v1/tus/`, {
      method: "POST",
      headers: {
        ...TUS,
        ...a.auth,
        "upload-length": String(2 * MiB),
        "upload-metadata": `filename ${Buffer.from("j").toString("base64")}`,
      },
    });
    expect(c.status).toBe(201);
    const path = new URL(c.headers.get("location") ?? "").pathname;
    const p = await fetch(`${t.base}${path}`, {
      method: "PATCH",
      headers: { ...TUS, ...a.auth, "content-type": "application/offset+octet-stream", "upload-offset": "0" },
      body: randomBytes(1000),
    });
    expect(p.status).toBe(204);
    const id = path.split("/").pop();
    const db = new pg.Client({ connectionString: t.mesh!.env.DATABASE_URL });
    await db.connect();
    try {
      const { rows } = await db.query("SELECT tail_key FROM files.uploads WHERE id = $1", [id]);
      const tail = rows[0]?.tail_key as string;
      const store = minio.s3Store(bucket);
      expect(await store.stat(tail)).toEqual({ sizeBytes: 1000 });
      expect((await call("GET", "/v1/usage", a.auth)).body.reservedBytes).toBe(String(2 * MiB));
      await db.query("UPDATE files.uploads SET expire_time = now() - interval '1 second' WHERE id = $1", [
        id,
      ]);
      const mesh = t.mesh!;
      const res = await grpcCall(
        mesh.file.expireUploads.bind(mesh.file),
        { cutoffTime: new Date(), maxItems: 1000 },
        mesh.serviceHeaders("processor"),
      );
      expect(res.expired).toBeGreaterThanOrEqual(1);
      expect((await call("GET", "/v1/usage", a.auth)).body.reservedBytes).toBe("0");
      expect(await store.stat(tail)).toBeUndefined();
      const h = await fetch(`${t.base}${path}`, { method: "HEAD", headers: { ...TUS, ...a.auth } });
      expect(h.status).toBe(410);
    } finally {
      await db.end();
    }
  });

  it("tus requests count against the caller's upload rate limit (429 + Retry-After)", async () => {
    const a = await signup();
    const c = await fetch(`${t.base}/v1/tus/`, {
      method: "POST",
      headers: {
        ...TUS,
        ...a.auth,
        "upload-length": "10",
        "upload-metadata": `filename ${Buffer.from("r").toString("base64")}`,
      },
    });
    const path = new URL(c.headers.get("location") ?? "").pathname;
    const statuses = await Promise.all(
      Array.from({ length: 200 }, () =>
        fetch(`${t.base}${path}`, { method: "HEAD", headers: { ...TUS, ...a.auth } }).then((r) => ({
          status: r.status,
          retryAfter: r.headers.get("retry-after"),
        })),
      ),
    );
    const limited = statuses.filter((s) => s.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s.status !== 429).every((s) => s.status === 200)).toBe(true);
    expect(Number(limited[0]?.retryAfter)).toBeGreaterThanOrEqual(1);
    // Another user is not affected.
    const b = await signup();
    const other = await fetch(`${t.base}/v1/tus/`, {
      method: "POST",
      headers: {
        ...TUS,
        ...b.auth,
        "upload-length": "1",
        "upload-metadata": `filename ${Buffer.from("o").toString("base64")}`,
      },
    });
    expect(other.status).toBe(201);
  });
});
