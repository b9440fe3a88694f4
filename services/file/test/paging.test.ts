// Page tokens of the file lists (the kit's paging): bound to the caller as well as the folder
// or file, so a token one reader got cannot be replayed by another reader of the same folder.
import { failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { rpc, useFileMesh } from "./start-file.js";

const t = useFileMesh();

type H = Record<string, string>;
const list = (h: H, parentId: string, pageSize: number, pageToken = "") =>
  rpc(t.f, t.f.listFiles, { parentId, pageSize, pageToken, orderBy: 0 }, h);

describe("file list paging", () => {
  it("binds ListFiles tokens to the caller: another reader of the folder cannot use them", async () => {
    const [a, b] = [await t.mesh.newUser(), await t.mesh.newUser()];
    const shared = await t.folder(a.headers, "shared");
    for (const n of ["x", "y", "z"]) await t.folder(a.headers, n, shared.id);
    await t.grant(a.headers, shared.id, `user:${b.userId}`, "viewer");
    const first = await list(a.headers, shared.id, 1);
    expect(first.files.map((f) => f.name)).toEqual(["x"]);
    expect(await failure(list(b.headers, shared.id, 1, first.nextPageToken))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "INVALID_PAGE_TOKEN",
    });
    // b pages the same folder with tokens of its own; huge sizes are clamped, not refused.
    const mine = await list(b.headers, shared.id, 1);
    expect((await list(b.headers, shared.id, 5, mine.nextPageToken)).files.map((f) => f.name)).toEqual([
      "y",
      "z",
    ]);
    expect((await list(a.headers, shared.id, 2147483647)).files).toHaveLength(3);
  });
});
