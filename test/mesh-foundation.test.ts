// The whole mesh in-process: every service serves health and reflection, unimplemented RPCs
// answer NOT_IMPLEMENTED to an authenticated caller, and the kit's caller checks apply to
// every service alike (missing/garbage tokens, internal-only and admin-only methods).

import { call, failure, listServices } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkHealth } from "../scripts/lib/health.mjs";
import { authOutcome, startTestMesh, type TestMesh } from "./harness/mesh.js";

let mesh: TestMesh;
beforeAll(async () => {
  mesh = await startTestMesh({ services: ["auth", "user", "permission", "file", "processor"] });
});
afterAll(() => mesh.stop());

describe("the local mesh", () => {
  it.each([
    ["auth", "filemesh.auth.v1.AuthService"],
    ["user", "filemesh.user.v1.UserService"],
    ["permission", "filemesh.permission.v1.PermissionService"],
    ["file", "filemesh.file.v1.FileService"],
    ["processor", "filemesh.processor.v1.ProcessorService"],
  ] as const)("%s is SERVING and lists %s through reflection", async (svc, full) => {
    expect(await checkHealth(mesh.addr(svc), full)).toBe("SERVING");
    expect(await listServices(mesh.addr(svc))).toContain(full);
  });

  it("lets an authenticated caller through the caller checks of every service", async () => {
    const u = await mesh.newUser();
    expect(
      await authOutcome(
        call(mesh.auth.listSessions.bind(mesh.auth), { pageSize: 1, pageToken: "" }, u.headers),
      ),
    ).toBe("PASSED");
    expect(await authOutcome(call(mesh.user.getMe.bind(mesh.user), {}, u.headers))).toBe("PASSED");
    expect(await authOutcome(call(mesh.file.getUsage.bind(mesh.file), {}, u.headers))).toBe("PASSED");
    const check = {
      subject: "",
      resource: "file:00000000-0000-0000-0000-000000000000",
      permission: "read",
      minRevision: "0",
    };
    expect(await authOutcome(call(mesh.permission.check.bind(mesh.permission), check, u.headers))).toBe(
      "PASSED",
    );
  });

  it.each([
    ["no header", {}, "MISSING_TOKEN"],
    ["not bearer", { authorization: "Basic dXNlcjpwYXNz" }, "INVALID_TOKEN"],
    ["garbage", { authorization: "Bearer abc.def.ghi" }, "INVALID_TOKEN"],
    [
      "alg none",
      { authorization: `Bearer ${b64({ alg: "none", typ: "at+jwt" })}.${b64({ sub: "x", sid: "y" })}.` },
      "INVALID_TOKEN",
    ],
    [
      "HS256 with the public key",
      { authorization: `Bearer ${b64({ alg: "HS256", typ: "at+jwt", kid: "k" })}.${b64({ sub: "x" })}.c2ln` },
      "INVALID_TOKEN",
    ],
  ])("refuses a call with %s as UNAUTHENTICATED", async (_name, headers, reason) => {
    const err = await failure(call(mesh.user.getMe.bind(mesh.user), {}, headers as Record<string, string>));
    expect(err).toMatchObject({ code: status.UNAUTHENTICATED, reason });
  });

  it("keeps internal methods to the listed mesh services", async () => {
    const u = await mesh.newUser();
    const req = { updates: [], requestId: "", forget: [], fencingToken: "0" };
    const asUser = await failure(call(mesh.permission.writeRelations.bind(mesh.permission), req, u.headers));
    expect(asUser).toMatchObject({ code: status.UNAUTHENTICATED, reason: "SERVICE_IDENTITY_REQUIRED" });
    const asProcessor = await failure(
      call(mesh.permission.writeRelations.bind(mesh.permission), req, mesh.serviceHeaders("processor")),
    );
    expect(asProcessor).toMatchObject({ code: status.PERMISSION_DENIED, reason: "CALLER_NOT_ALLOWED" });
    const forged = await failure(
      call(mesh.permission.writeRelations.bind(mesh.permission), req, {
        "x-filemesh-service": "file",
        "x-filemesh-internal-token": "not-the-token-at-all",
      }),
    );
    expect(forged.reason).toBe("SERVICE_IDENTITY_REQUIRED");
    // The right service gets through the caller checks to the handler, which refuses an empty write.
    expect(
      await authOutcome(
        call(mesh.permission.writeRelations.bind(mesh.permission), req, mesh.serviceHeaders("file")),
      ),
    ).toBe("INVALID_UPDATES");
  });

  it("requires the admin role on admin methods", async () => {
    const u = await mesh.newUser();
    const err = await failure(call(mesh.processor.runJanitor.bind(mesh.processor), {}, u.headers));
    expect(err).toMatchObject({ code: status.PERMISSION_DENIED, reason: "ADMIN_REQUIRED" });
  });
});

function b64(o: object): string {
  return Buffer.from(JSON.stringify(o)).toString("base64url");
}
