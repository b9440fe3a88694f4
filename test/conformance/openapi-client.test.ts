// The OpenAPI document is usable by a generator: a typed REST client (openapi-typescript types
// in gen/openapi.d.ts, built by scripts/generate.mjs, + openapi-fetch) registers, logs in,
// creates a folder, uploads raw bytes into it, lists it and downloads a range, with no
// hand-written paths or types. Its responses are validated against the document like every
// other conformance call (target.ts).
import { randomBytes } from "node:crypto";
import createClient from "openapi-fetch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { paths } from "../../gen/openapi.js";
import { startTarget, type Target } from "./target.js";

let t: Target;
beforeAll(async () => {
  t = await startTarget({ services: ["auth", "user", "permission", "file"] });
});
afterAll(() => t?.stop());

/** Raw bodies go as they are (openapi-fetch serialises JSON by default). */
const rawBody = { bodySerializer: (b: Blob) => b, headers: { "content-type": "application/octet-stream" } };

describe("typed REST client generated from /openapi.json", () => {
  it("register, login, create a folder, upload raw, list, download a range", async () => {
    const anon = createClient<paths>({ baseUrl: t.base });
    const email = `openapi-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
    const password = "a typed client passphrase";

    const reg = await anon.POST("/v1/auth:register", { body: { email, password, displayName: "Typed" } });
    expect(reg.response.status).toBe(200);
    const userId = reg.data?.user?.id;
    expect(userId).toEqual(expect.any(String));

    const wrong = await anon.POST("/v1/auth:login", { body: { email, password: "not the passphrase" } });
    expect(wrong.response.status).toBe(401);
    expect(wrong.error?.details?.some((d) => d["@type"].endsWith("google.rpc.ErrorInfo"))).toBe(true);

    const login = await anon.POST("/v1/auth:login", { body: { email, password } });
    expect(login.data?.tokenType).toBe("Bearer");
    const me = createClient<paths>({
      baseUrl: t.base,
      headers: { authorization: `Bearer ${login.data?.accessToken}` },
    });

    const who = await me.GET("/v1/users/me");
    expect(who.data?.id).toBe(userId); // response_body: "user"

    const folder = await me.POST("/v1/folders", { body: { name: "Typed folder" } });
    expect(folder.data).toMatchObject({ name: "Typed folder", kind: "FOLDER", ownerId: userId });
    const folderId = folder.data?.id ?? "";

    const bytes = randomBytes(100_000);
    const up = await me.POST("/v1/files:upload", {
      params: { query: { parentId: folderId, name: "typed.bin" } },
      body: new Blob([bytes]),
      ...rawBody,
    });
    expect(up.response.status).toBe(200);
    expect(up.data).toMatchObject({
      name: "typed.bin",
      parentId: folderId,
      sizeBytes: "100000",
      kind: "FILE",
    });
    const fileId = up.data?.id ?? "";

    const list = await me.GET("/v1/files", { params: { query: { parentId: folderId, pageSize: 10 } } });
    expect(list.data?.files?.map((f) => f.id)).toEqual([fileId]);

    const whole = await me.GET("/v1/files/{fileId}/content", {
      params: { path: { fileId } },
      parseAs: "arrayBuffer",
    });
    expect(whole.response.status).toBe(200);
    expect(Buffer.from(whole.data as ArrayBuffer).equals(bytes)).toBe(true);

    const range = await me.GET("/v1/files/{fileId}/content", {
      params: { path: { fileId }, query: { offset: "1000", length: "500" } },
      parseAs: "arrayBuffer",
    });
    expect(range.response.headers.get("content-length")).toBe("500");
    expect(Buffer.from(range.data as ArrayBuffer).equals(bytes.subarray(1000, 1500))).toBe(true);

    const missing = await me.GET("/v1/files/{fileId}", {
      params: { path: { fileId: "00000000-0000-4000-8000-000000000000" } },
    });
    expect(missing.response.status).toBe(404);
  });
});
