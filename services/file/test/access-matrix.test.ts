// The access-control matrix of docs/reliability.md for the file RPCs: every RPC × {owner, editor,
// viewer, group member (viewer through a group), stranger, anonymous, expired grant, share-link
// holder}. Only the allowed cells succeed; a denial never tells a hidden file from a missing
// one. A share-link holder (here: of a viewer link on the whole folder) is anonymous on these
// RPCs, also when it offers the link token as a bearer token; the link routes serve it (more in
// links.test.ts). And when the permission service is down, every decision fails closed.
import { filev1, userv1 } from "@filemesh/contracts";
import { failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { beforeAll, describe, expect, it } from "vitest";
import { collect, metadataOf, rawUpload, rpc, send, useFileMesh } from "./start-file.js";

type Caller = "owner" | "editor" | "viewer" | "group" | "stranger" | "anonymous" | "expired" | "link";
const CALLERS: Caller[] = ["owner", "editor", "viewer", "group", "stranger", "anonymous", "expired", "link"];
const USERS = CALLERS.filter((c) => c !== "anonymous" && c !== "link");
type H = Record<string, string>;

const t = useFileMesh();
let heads: Record<Caller, H>;
let homes: Partial<Record<Caller, string>>;
let folderId: string;
let folderLink: filev1.ShareLink;

beforeAll(async () => {
  const u: Record<string, Awaited<ReturnType<typeof t.mesh.newUser>>> = {};
  for (const c of USERS) u[c] = await t.mesh.newUser();
  heads = Object.fromEntries(CALLERS.map((c) => [c, u[c]?.headers ?? {}])) as Record<Caller, H>;
  homes = {};
  for (const c of USERS) {
    homes[c] = (await rpc(t.f, t.f.ensureHomeFolder, { userId: u[c]!.userId }, t.mesh.serviceHeaders("user")))
      .folder!.id;
  }
  const owner = heads.owner;
  folderId = (await t.folder(owner, "matrix")).id;
  const group = (
    await rpc(
      t.mesh.user,
      t.mesh.user.createGroup,
      userv1.CreateGroupRequest.fromPartial({ group: { name: "readers" } }),
      owner,
    )
  ).group!.id;
  await rpc(
    t.mesh.user,
    t.mesh.user.addGroupMember,
    userv1.AddGroupMemberRequest.fromPartial({ groupId: group, member: `user:${u.group!.userId}` }),
    owner,
  );
  await t.grant(owner, folderId, `user:${u.editor!.userId}`, "editor");
  await t.grant(owner, folderId, `user:${u.viewer!.userId}`, "viewer");
  await t.grant(owner, folderId, `group:${group}`, "viewer");
  await t.grant(owner, folderId, `user:${u.expired!.userId}`, "editor", new Date(Date.now() + 1500));
  folderLink = await t.createLink(owner, folderId);
  heads.link = { authorization: `Bearer ${folderLink.token}` };
  await new Promise((r) => setTimeout(r, 1600));
});

/** A fresh file in the shared folder for each cell (writes that succeed change it). */
const fresh = async () => await t.upload(heads.owner, `f-${Math.random()}`, "x", folderId);

const RPCS: Record<string, (fileId: string, h: H, c: Caller) => Promise<unknown>> = {
  GetFile: (id, h) => rpc(t.f, t.f.getFile, { fileId: id }, h),
  ListFiles: (_id, h) =>
    rpc(t.f, t.f.listFiles, filev1.ListFilesRequest.fromPartial({ parentId: folderId }), h),
  GetFileContent: (id, h) =>
    collect(t.f.getFileContent(filev1.GetFileContentRequest.fromPartial({ fileId: id }), metadataOf(h))),
  ReadFile: (id, h) =>
    collect(t.f.readFile(filev1.ReadFileRequest.fromPartial({ fileId: id }), metadataOf(h))),
  ListFileVersions: (id, h) => rpc(t.f, t.f.listFileVersions, { fileId: id, pageSize: 0, pageToken: "" }, h),
  RestoreFileVersion: async (id, h) => {
    const { rows } = await t.db.query("SELECT id FROM files.versions WHERE file_id = $1", [id]);
    return rpc(t.f, t.f.restoreFileVersion, { fileId: id, versionId: rows[0].id, requestId: "" }, h);
  },
  CopyFile: (id, h, c) =>
    rpc(t.f, t.f.copyFile, { fileId: id, parentId: homes[c] ?? "", name: "", requestId: "" }, h),
  CreateFolder: (_id, h) =>
    rpc(t.f, t.f.createFolder, { parentId: folderId, name: `d-${Math.random()}`, requestId: "" }, h),
  UploadFile: (_id, h) =>
    send(t.f, t.f.uploadFile, rawUpload(folderId, `u-${Math.random()}`, Buffer.from("y")), h),
  CreateUpload: (_id, h) =>
    rpc(
      t.f,
      t.f.createUpload,
      filev1.CreateUploadRequest.fromPartial({ parentId: folderId, name: "s", sizeBytes: "1" }),
      h,
    ),
  UpdateFile: (id, h) =>
    rpc(
      t.f,
      t.f.updateFile,
      { fileId: id, file: filev1.File.fromPartial({ name: `r-${id}` }), updateMask: ["name"] },
      h,
    ),
  CreateShareLink: (id, h) =>
    rpc(t.f, t.f.createShareLink, filev1.CreateShareLinkRequest.fromPartial({ fileId: id }), h),
  ListShareLinks: (id, h) => rpc(t.f, t.f.listShareLinks, { fileId: id, pageSize: 0, pageToken: "" }, h),
  DeleteFile: (id, h) => rpc(t.f, t.f.deleteFile, { fileId: id, permanent: false, etag: "" }, h),
};

// Each RPC has its own response shape; ALLOWED checks it per RPC.
type Res = Record<string, any>;
const bytesOf = (msgs: { data?: Uint8Array }[]) =>
  Buffer.concat(msgs.filter((m) => m.data).map((m) => Buffer.from(m.data!))).toString();

/** What an allowed call returns, per RPC: the file it acted on, its bytes, the fields it set. */
const ALLOWED: Record<string, (res: Res, file: filev1.File, c: Caller, m: string) => void> = {
  GetFile: (r, f, _c, m) =>
    expect(r.file, m).toMatchObject({ id: f.id, name: f.name, parentId: folderId, sizeBytes: "1" }),
  ListFiles: (r, f, _c, m) =>
    expect(
      r.files.map((x: filev1.File) => x.id),
      m,
    ).toContain(f.id),
  GetFileContent: (r, _f, _c, m) => expect(bytesOf(r as never), m).toBe("x"),
  ReadFile: (r, f, _c, m) => {
    expect(r[0].file, m).toMatchObject({ id: f.id, sizeBytes: "1" });
    expect(bytesOf(r as never), m).toBe("x");
  },
  ListFileVersions: (r, f, _c, m) =>
    expect(r.versions, m).toMatchObject([
      { fileId: f.id, id: f.currentVersionId, sizeBytes: "1", current: true },
    ]),
  RestoreFileVersion: (r, f, _c, m) =>
    expect(r.file, m).toMatchObject({ id: f.id, currentVersionId: f.currentVersionId }),
  CopyFile: (r, f, c, m) => {
    expect(r.file, m).toMatchObject({ name: f.name, parentId: homes[c], sizeBytes: "1", sha256: f.sha256 });
    expect(r.file.id, m).not.toBe(f.id);
  },
  CreateFolder: (r, _f, _c, m) =>
    expect(r.file, m).toMatchObject({ parentId: folderId, kind: filev1.FileKind.FOLDER }),
  UploadFile: (r, _f, _c, m) =>
    expect(r.file, m).toMatchObject({ parentId: folderId, sizeBytes: "1", state: filev1.FileState.READY }),
  CreateUpload: (r, _f, _c, m) =>
    expect(r.upload, m).toMatchObject({ parentId: folderId, name: "s", sizeBytes: "1" }),
  UpdateFile: (r, f, _c, m) => expect(r.file, m).toMatchObject({ id: f.id, name: `r-${f.id}` }),
  CreateShareLink: (r, f, _c, m) => {
    expect(r.link, m).toMatchObject({ fileId: f.id, role: "viewer" });
    expect(r.link.token, m).not.toBe("");
  },
  ListShareLinks: (r, _f, _c, m) => expect(r.links, m).toEqual([]),
  DeleteFile: (r, f, _c, m) => {
    expect(r.file, m).toMatchObject({ id: f.id });
    expect(r.file.trashTime, m).toBeInstanceOf(Date);
  },
};

const OK = "ok";
const { NOT_FOUND: NF, PERMISSION_DENIED: PD, UNAUTHENTICATED: UA } = status;
const read = {
  owner: OK,
  editor: OK,
  viewer: OK,
  group: OK,
  stranger: NF,
  anonymous: UA,
  expired: NF,
  link: UA,
};
const write = {
  owner: OK,
  editor: OK,
  viewer: PD,
  group: PD,
  stranger: NF,
  anonymous: UA,
  expired: NF,
  link: UA,
};
const MATRIX: Record<string, Record<Caller, string | number>> = {
  GetFile: read,
  ListFiles: read,
  GetFileContent: read,
  ReadFile: read,
  ListFileVersions: read,
  RestoreFileVersion: write,
  CopyFile: read,
  CreateFolder: write,
  UploadFile: write,
  CreateUpload: write,
  UpdateFile: write,
  CreateShareLink: write,
  ListShareLinks: write,
  DeleteFile: { ...write, editor: PD },
};

describe("access matrix", () => {
  for (const [name, run] of Object.entries(RPCS)) {
    it(name, async () => {
      for (const c of CALLERS) {
        const file = await fresh();
        const want = MATRIX[name]![c];
        if (want === OK) {
          const res = await run(file.id, heads[c], c);
          ALLOWED[name]!(res as Res, file, c, `${name} as ${c}`);
        } else {
          const got = await failure(run(file.id, heads[c], c));
          expect(got.code, `${name} as ${c}: ${got.reason}`).toBe(want);
          if (want === NF) expect(got.reason).toBe("FILE_NOT_FOUND");
        }
      }
    });
  }
});

describe("share-link holder", () => {
  it("reads the linked folder through the link routes, and nothing through the file RPCs", async () => {
    const seen = await rpc(t.f, t.f.getSharedLink, { token: folderLink.token, password: "" });
    expect(seen.file).toMatchObject({ id: folderId, ownerId: "" });
    const file = await fresh();
    for (const h of [heads.link, {}]) {
      expect(await failure(RPCS.GetFile!(file.id, h, "link"))).toMatchObject({ code: UA });
    }
  });
});

describe("fail closed", () => {
  it("answers UNAVAILABLE, never an allow, when the permission service is down", async () => {
    const file = await fresh();
    await t.mesh.runtimes.permission[0]!.shutdown("test: permission down");
    for (const run of [RPCS.GetFile!, RPCS.UpdateFile!, RPCS.DeleteFile!]) {
      expect(await failure(run(file.id, heads.owner, "owner"))).toMatchObject({
        code: status.UNAVAILABLE,
        reason: "PERMISSION_UNAVAILABLE",
      });
    }
    expect(
      await failure(rpc(t.f, t.f.getSharedLink, { token: folderLink.token, password: "" })),
    ).toMatchObject({ code: status.UNAVAILABLE, reason: "PERMISSION_UNAVAILABLE" });
    expect(await failure(RPCS.CreateFolder!("", heads.owner, "owner"))).toMatchObject({
      code: status.UNAVAILABLE,
    });
  });
});
