// The Go client (clients/go) against a live mesh behind the local gateway: its own `go test`
// suite (which skips without FILEMESH_GRPC_ADDR, so this file checks that each test really
// ran and passed) and the runnable example.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestMinio, type TestMinio } from "@filemesh/kit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTarget, type Target } from "../conformance/target.js";
import { root, run } from "./run.js";

const goDir = join(root, "clients", "go");
const GO_TESTS = [
  "TestRegisterLoginRefresh",
  "TestDeniedCallsCarryTheirReason",
  "TestGrantLetsASecondUserRead",
  "TestReadFileRange",
  "TestUploadResumesAfterACutConnection",
  "TestUploadWithAWrongHashIsRefused",
  "TestSeekableUploadGoesInOneStream",
  "TestSeekableUploadResumesBySeeking",
  "TestPlainReaderGoesInWindows",
  "TestSeekableReaderFailureIsNotRetried",
  "TestDownloadGoesOverTheDataPlane",
  "TestPutGoesOverTheDataPlane",
  "TestPutSendsAgainAfterACut",
  "TestUploadPartsOverTheDataPlane",
  "TestDownloadRenewsAnExpiredTicketOnTheSameVersion",
];

describe("Go client", () => {
  let target: Target;
  let grpcAddr: string;

  beforeAll(async () => {
    // The stubs are built, not committed: regenerate them from today's contracts (about 1 s).
    const gen = await run(join(goDir, "generate.sh"), []);
    if (gen.code !== 0) throw new Error(`clients/go/generate.sh failed:\n${gen.stderr}`);
    target = await startTarget({
      services: ["auth", "user", "permission", "file"],
      // 256 KiB parts, so an 8 MiB upload cut after 6 MiB has stored parts to resume from
      // (what the gateway and the service buffer stays well below those 6 MiB).
      serviceEnv: { file: { UPLOAD_PART_BYTES: String(256 << 10) } },
    });
    grpcAddr = new URL(target.base).host; // native gRPC is proxied on the gateway's port
  });
  afterAll(async () => {
    await target?.stop();
  });

  it("go test ./... passes against the mesh, every test run and none skipped", {
    timeout: 600_000,
  }, async () => {
    const r = await run("go", ["test", "-count=1", "-v", "-timeout=8m", "./..."], {
      cwd: goDir,
      env: { FILEMESH_GRPC_ADDR: grpcAddr },
    });
    const out = r.stdout + r.stderr;
    expect(r.code, out.slice(-6000)).toBe(0);
    for (const name of GO_TESTS) expect(out).toContain(`--- PASS: ${name} `);
    expect(out).not.toContain("--- SKIP");
    expect(out).toMatch(/^ok\s+github\.com\/filemesh\/filemesh\/clients\/go\s/m);
    // The cut connection really happened and the upload resumed from a committed offset.
    expect(out).toMatch(/resumed at [1-9]\d* after rpc error/);
  });

  it("the upload example uploads a file and prints its id", { timeout: 300_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "go-example-"));
    const path = join(dir, "hello.bin");
    writeFileSync(path, randomBytes(300_000));
    const email = `go-example-${randomBytes(6).toString("hex")}@example.com`;
    const r = await run(
      "go",
      [
        "run",
        "./examples/upload",
        "-addr",
        grpcAddr,
        "-plaintext",
        "-register",
        "-email",
        email,
        "-password",
        "example password 1",
        path,
      ],
      { cwd: goDir },
    );
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(r.stdout).toMatch(
      /^uploaded hello\.bin: id [0-9a-f-]{36}, 300000 bytes, sha256 [0-9a-f]{64}, READY$/m,
    );
  });
});

// The data plane's Go tests again with the s3 driver: downloads then come from MinIO by
// presigned URL (absolute, the Range within the object), a PARTS session's parts to MinIO by
// presigned URL too; Put still goes to /v1/data.
const DATA_PLANE_TESTS = [
  "TestDownloadGoesOverTheDataPlane",
  "TestPutGoesOverTheDataPlane",
  "TestPutSendsAgainAfterACut",
  "TestUploadPartsOverTheDataPlane",
];

describe("Go client, data plane on the s3 driver", () => {
  let minio: TestMinio;
  let target: Target;

  beforeAll(async () => {
    minio = await startTestMinio();
    target = await startTarget({
      services: ["auth", "user", "permission", "file"],
      serviceEnv: { file: minio.env(`go-${randomBytes(4).toString("hex")}`) },
    });
  }, 180_000);
  afterAll(async () => {
    await target?.stop();
    await minio?.stop();
  });

  it("Download and parts by presigned URLs, and Put, pass", { timeout: 300_000 }, async () => {
    const r = await run(
      "go",
      ["test", "-count=1", "-v", "-timeout=4m", "-run", `^(${DATA_PLANE_TESTS.join("|")})$`, "."],
      {
        cwd: goDir,
        env: { FILEMESH_GRPC_ADDR: new URL(target.base).host },
      },
    );
    const out = r.stdout + r.stderr;
    expect(r.code, out.slice(-6000)).toBe(0);
    for (const name of DATA_PLANE_TESTS) expect(out).toContain(`--- PASS: ${name} `);
    expect(out).not.toContain("--- SKIP");
  });
});
