// grpcurl with no proto files (server reflection), against the local gateway and a service's
// own port: the README's grpcurl lines, run for real.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTarget, type Target } from "../conformance/target.js";
import { run, tools } from "./run.js";

describe("grpcurl through reflection", () => {
  let target: Target;
  let gateway: string;
  let grpcurl: string;

  beforeAll(async () => {
    grpcurl = join(await tools("grpcurl"), "grpcurl");
    target = await startTarget({ services: ["auth", "user", "permission", "file"] });
    gateway = new URL(target.base).host;
  });
  afterAll(async () => {
    await target?.stop();
  });

  /** `grpcurl -plaintext <flags> <addr> <verb>` as the README writes it; its output. */
  async function grpc(addr: string, flags: string[], verb: string[], input?: string) {
    const argv = ["-plaintext", ...flags, addr, ...verb];
    const r = await run(grpcurl, argv, input === undefined ? {} : { input });
    expect(r.code, `grpcurl ${argv.join(" ")}: ${r.stderr}`).toBe(0);
    return r.stdout;
  }
  const call = async (addr: string, flags: string[], method: string, input?: string) =>
    JSON.parse(await grpc(addr, flags, [method], input));
  const bearer = (token: string) => ["-H", `authorization: Bearer ${token}`];

  async function login(addr: string) {
    const email = `curl-${randomBytes(6).toString("hex")}@example.com`;
    const password = "correct horse battery";
    const account = JSON.stringify({ email, password, displayName: "Ada" });
    await call(addr, ["-d", account], "filemesh.auth.v1.AuthService/Register");
    const res = await call(
      addr,
      ["-d", JSON.stringify({ email, password })],
      "filemesh.auth.v1.AuthService/Login",
    );
    expect(res.tokenType).toBe("Bearer");
    return res as { accessToken: string; userId: string };
  }

  it("lists every public service on the gateway, and a service's own on its port", async () => {
    const onGateway = (await grpc(gateway, [], ["list"])).trim().split("\n");
    expect(onGateway).toEqual(
      expect.arrayContaining([
        "filemesh.auth.v1.AuthService",
        "filemesh.user.v1.UserService",
        "filemesh.permission.v1.PermissionService",
        "filemesh.file.v1.FileService",
      ]),
    );
    for (const s of ["auth", "user", "permission", "file"] as const) {
      const own = (await grpc(target.mesh!.addr(s), [], ["list"])).trim().split("\n");
      expect(own.filter((n) => n.startsWith("filemesh."))).toEqual([
        `filemesh.${s}.v1.${s[0]!.toUpperCase()}${s.slice(1)}Service`,
      ]);
    }
    // describe needs every imported file (timestamps, google.api annotations) by reflection.
    for (const addr of [gateway, target.mesh!.addr("file")]) {
      const described = await grpc(addr, [], ["describe", "filemesh.file.v1.FileService.WriteUpload"]);
      expect(described).toContain("rpc WriteUpload ( stream .filemesh.file.v1.WriteUploadRequest )");
    }
  });

  it("logs in and calls GetMe with the bearer token, on the gateway and on the service ports", async () => {
    for (const [authAddr, userAddr] of [
      [gateway, gateway],
      [target.mesh!.addr("auth"), target.mesh!.addr("user")],
    ] as const) {
      const { accessToken, userId } = await login(authAddr);
      const me = await call(userAddr, bearer(accessToken), "filemesh.user.v1.UserService/GetMe");
      expect(me.user.id).toBe(userId);
    }
    // Without the header the answer is the status with its reason.
    const r = await run(grpcurl, ["-plaintext", gateway, "filemesh.user.v1.UserService/GetMe"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Code: Unauthenticated");
    expect(r.stderr).toContain('"reason": "MISSING_TOKEN"');
  });

  it("uploads with the client-streaming WriteUpload, several messages from stdin", async () => {
    const { accessToken } = await login(gateway);
    const chunks = [randomBytes(70_000), randomBytes(50_000), randomBytes(1_234)];
    const content = Buffer.concat(chunks);
    const session = JSON.stringify({
      name: "curl.bin",
      sizeBytes: String(content.length),
      method: "UPLOAD_METHOD_STREAM",
    });
    const { upload } = await call(
      gateway,
      [...bearer(accessToken), "-d", session],
      "filemesh.file.v1.FileService/CreateUpload",
    );
    const messages = chunks.map((c, i) =>
      JSON.stringify({
        ...(i === 0 ? { uploadId: upload.id, writeOffset: "0" } : {}),
        data: c.toString("base64"),
        ...(i === chunks.length - 1 ? { finishWrite: true } : {}),
      }),
    );
    const res = await call(
      gateway,
      [...bearer(accessToken), "-d", "@"],
      "filemesh.file.v1.FileService/WriteUpload",
      messages.join("\n"),
    );
    expect(res.committedSizeBytes).toBe(String(content.length));
    expect(res.file).toMatchObject({ name: "curl.bin", sizeBytes: String(content.length), state: "READY" });

    // ReadFile streams it back: the metadata message, then the data.
    const out = await grpc(
      gateway,
      [...bearer(accessToken), "-d", JSON.stringify({ fileId: res.file.id })],
      ["filemesh.file.v1.FileService/ReadFile"],
    );
    const parts = out
      .trim()
      .split(/\n(?=\{)/)
      .map((m) => JSON.parse(m));
    expect(parts[0].file.id).toBe(res.file.id);
    const back = Buffer.concat(parts.slice(1).map((p) => Buffer.from(p.data, "base64")));
    expect(back.equals(content)).toBe(true);
  });
});
