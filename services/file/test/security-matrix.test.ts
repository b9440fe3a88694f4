// Findings of the attacker's review of the file service (docs/security.md, "Findings"), each a
// test that fails until it is fixed. F2: CopyFile copies every object in the store before it
// claims the caller's quota, so a user with no quota left can still make the service copy
// gigabytes per call (the copies are deleted again when the claim fails).
import { watch } from "node:fs";
import { filev1 } from "@filemesh/contracts";
import { failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { rpc, useFileMesh } from "./start-file.js";

const QUOTA = 1024 * 1024;
const t = useFileMesh({ env: { DEFAULT_QUOTA_BYTES: String(QUOTA) } });

describe("findings of the review (each fails until fixed)", () => {
  it("FINDING: a copy over the caller's quota is refused before any byte is copied in the store", async () => {
    const [alice, bob] = [await t.mesh.newUser(), await t.mesh.newUser()];
    // Bob's quota is nearly used up; Alice shares a file larger than what is left.
    await t.upload(bob.headers, "mine.bin", Buffer.alloc(QUOTA - 1000, 7));
    const shared = await t.upload(alice.headers, "big.bin", Buffer.alloc(600 * 1024, 7));
    await t.grant(alice.headers, shared.id, `user:${bob.userId}`, "viewer");
    // The grant reaches the file service's checks within moments (no revision token here).
    for (let i = 0; i < 50; i++) {
      const seen = await rpc(t.f, t.f.getFile, { fileId: shared.id }, bob.headers).catch(() => undefined);
      if (seen) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const home = (await rpc(t.f, t.f.ensureHomeFolder, { userId: bob.userId }, t.mesh.serviceHeaders("user")))
      .folder!.id;
    const written: string[] = [];
    const watcher = watch(t.blobDir, { recursive: true }, (_event, name) => {
      if (name) written.push(String(name));
    });
    try {
      const refused = await failure(
        rpc(
          t.f,
          t.f.copyFile,
          filev1.CopyFileRequest.fromPartial({ fileId: shared.id, parentId: home }),
          bob.headers,
        ),
      );
      expect(refused.code).toBe(status.RESOURCE_EXHAUSTED);
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      watcher.close();
    }
    // Nothing may touch the store for a copy the caller's quota cannot hold.
    expect(written).toEqual([]);
  });
});
