// Throw-away MinIO and nats-server for the bench's private meshes (bench/lib/bench-mesh.mjs):
// free loopback ports, temporary data directories removed at stop, started as the runner's own
// children (Ctrl-C stops them; their pids give CPU per call). The MinIO arguments and
// environment are those of the tests' startTestMinio (services/kit/src/testing/minio.ts),
// with the pinned binary from `scripts/tools.sh minio`.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnServer } from "./exec.mjs";

export const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

const accepts = (port) =>
  new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port });
    s.once("connect", () => s.end(() => resolve(true)));
    s.once("error", () => resolve(false));
  });

const withDir = async (prefix, fn) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    const server = await fn(dir);
    return {
      ...server,
      stop: async () => {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
};

/** MinIO on a free port; resolves with { endpoint, env (the file service's S3_* settings), pid, argv, stop }. */
export function startPrivateMinio({ root, bucket = "filemesh-bench" }) {
  const bin = process.env.MINIO_BIN ?? join(root, ".tools", "bin", "minio");
  if (!existsSync(bin)) throw new Error(`${bin} missing: run scripts/tools.sh minio (or set MINIO_BIN)`);
  return withDir("filemesh-bench-minio-", async (dir) => {
    const [port, consolePort] = [await freePort(), await freePort()];
    const endpoint = `http://127.0.0.1:${port}`;
    const accessKeyId = `bench${randomBytes(6).toString("hex")}`;
    const secretAccessKey = randomBytes(24).toString("base64url");
    const args = ["server", "--quiet", "--address", `127.0.0.1:${port}`];
    args.push("--console-address", `127.0.0.1:${consolePort}`, dir);
    const { child, stop } = await spawnServer(bin, args, {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: dir,
        MINIO_ROOT_USER: accessKeyId,
        MINIO_ROOT_PASSWORD: secretAccessKey,
        MINIO_REGION: "us-east-1",
        MINIO_BROWSER: "off",
        MINIO_UPDATE: "off",
      },
      timeoutMs: 30_000,
      // cluster, not live: live answers before the object layer takes requests (kit testing/minio.ts).
      ready: async () => (await fetch(`${endpoint}/minio/health/cluster`)).ok,
    });
    return {
      endpoint,
      pid: child.pid,
      argv: [bin, ...args],
      env: {
        BLOB_DRIVER: "s3",
        S3_ENDPOINT: endpoint,
        S3_BUCKET: bucket,
        S3_REGION: "us-east-1",
        S3_ACCESS_KEY_ID: accessKeyId,
        S3_SECRET_ACCESS_KEY: secretAccessKey,
      },
      stop,
    };
  });
}

/** nats-server with JetStream on a free port; resolves with { url, pid, argv, stop }. */
export function startPrivateNats() {
  return withDir("filemesh-bench-nats-", async (dir) => {
    const port = await freePort();
    const bin = process.env.NATS_SERVER_BIN ?? "nats-server";
    const args = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir];
    const { child, stop } = await spawnServer(bin, args, { ready: () => accepts(port) });
    return { url: `nats://127.0.0.1:${port}`, pid: child.pid, argv: [bin, ...args], stop };
  });
}
