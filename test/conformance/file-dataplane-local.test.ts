// The data plane with GATEWAY_BLOB_DIR (the gateway shares the fs driver's disk): downloads
// are served by the gateway from the object file itself (http.ServeContent, sendfile) after
// the ticket call. The gateway is given a directory of its own here, so the test can tell
// which side served the bytes: a same-size object there wins; one of another size (a stale
// or foreign file) is never served, the data endpoint answers instead.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileClient } from "./file-client.js";
import { startTarget, type Target } from "./target.js";

const gatewayDir = mkdtempSync(join(tmpdir(), "gw-blobs-"));
let t: Target;
beforeAll(async () => {
  t = await startTarget({
    services: ["auth", "user", "permission", "file"],
    gatewayEnv: { GATEWAY_BLOB_DIR: gatewayDir },
  });
});
afterAll(() => t?.stop());

const { signup, raw } = fileClient(() => t.base);

describe.skipIf(Boolean(process.env.CONFORMANCE_BASE_URL))("data plane from the gateway's disk", () => {
  it("serves the ticket's window from the object file, and only a file of the ticket's size", async () => {
    const a = await signup();
    const up = await raw("POST", "/v1/files:upload?name=d.bin", a.auth, Buffer.from("0123456789"));
    const file = JSON.parse(up.bytes.toString());
    const loc = await fetch(`${t.base}/v1/files/${file.id}/content?redirect=true`, {
      headers: a.auth,
      redirect: "manual",
    });
    const claims = JSON.parse(
      Buffer.from(
        (loc.headers.get("location") ?? "").split("/").pop()!.split(".")[0]!,
        "base64url",
      ).toString(),
    );
    const local = join(gatewayDir, "objects", claims.k);
    mkdirSync(dirname(local), { recursive: true });

    // Not on the gateway's disk: the data endpoint serves it.
    expect((await raw("GET", `/v1/files/${file.id}/content`, a.auth)).bytes.toString()).toBe("0123456789");

    writeFileSync(local, "ABCDEFGHIJ"); // same size: the gateway's copy is served
    const whole = await raw("GET", `/v1/files/${file.id}/content`, a.auth);
    expect([whole.status, whole.bytes.toString()]).toEqual([200, "ABCDEFGHIJ"]);
    expect(whole.headers.get("content-length")).toBe("10");
    expect(whole.headers.get("etag")).toBe(`"${file.sha256}"`);
    expect(whole.headers.get("x-content-type-options")).toBe("nosniff");
    expect(whole.headers.get("content-disposition")).toMatch(/^attachment; filename="d\.bin"/);
    // A window: offset/length only; the Range header is not read on this route (§7).
    const win = await raw("GET", `/v1/files/${file.id}/content?offset=2&length=3`, {
      ...a.auth,
      range: "bytes=0-0",
    });
    expect([win.status, win.bytes.toString(), win.headers.get("content-length")]).toEqual([200, "CDE", "3"]);
    const cond = await raw("GET", `/v1/files/${file.id}/content`, {
      ...a.auth,
      "if-none-match": `"${file.sha256}"`,
    });
    expect([cond.status, cond.bytes.length]).toEqual([200, 10]);

    writeFileSync(local, "a stale object of another size"); // never served
    expect((await raw("GET", `/v1/files/${file.id}/content`, a.auth)).bytes.toString()).toBe("0123456789");
  });
});
