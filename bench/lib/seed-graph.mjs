// Seed of the 2-hop check scenario (`bench.seed.graph`), through the public API: an owner
// (bench-graph-0@bench.filemesh.example) creates groups A and B, makes B a member of A and the
// runner's token user a member of B, creates a folder in its home with a small file in it, and
// grants A viewer on the folder. A Check by the token user on the file then walks
// user → B → A (nested groups) and file → folder (inheritance). The seed checks that it does
// (allowed at the last write's revision) before anything is measured.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { credentials, loadPackageDefinition } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { SERVICES } from "../../scripts/lib/mesh.mjs";
import { bearer, fileClients, unary as fileUnary, uploadFile } from "./file-client.mjs";
import { authClient, seedUsers, unary } from "./seed.mjs";

// As file-client.mjs: messages keep the proto field names (snake_case), int64 as strings.
const LOADER = { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true };

function clients(root, host) {
  const image = readFileSync(join(root, "gen", "filemesh.binpb"));
  const pkg = loadPackageDefinition(loadFileDescriptorSetFromBuffer(image, LOADER));
  const insecure = credentials.createInsecure();
  return {
    users: new pkg.filemesh.user.v1.UserService(`${host}:${SERVICES.user}`, insecure),
    permissions: new pkg.filemesh.permission.v1.PermissionService(`${host}:${SERVICES.permission}`, insecure),
  };
}

/**
 * Seeds the graph for `tokenUser` ({ token, userId }); resolves with the Check request
 * ({ resource, permission }) and what was made (ids, revision).
 */
export async function seedGraph({ root, host, tokenUser, log }) {
  const [{ email, password }] = (
    await seedUsers({ root, addr: `${host}:${SERVICES.auth}`, count: 1, prefix: "bench-graph" })
  ).users;
  const auth = authClient(root, `${host}:${SERVICES.auth}`);
  const [files] = fileClients(root, `${host}:${SERVICES.file}`);
  const { users, permissions } = clients(root, host);
  const tag = randomBytes(4).toString("hex");
  try {
    const owner = bearer((await unary(auth, "login", { email, password })).access_token);
    const group = async (name) =>
      (await fileUnary(users, "createGroup", { group: { name: `bench-${tag}-${name}` } }, owner)).group;
    const [a, b] = [await group("a"), await group("b")];
    const add = (groupId, member) => fileUnary(users, "addGroupMember", { group_id: groupId, member }, owner);
    await add(a.id, `group:${b.id}`);
    await add(b.id, `user:${tokenUser.userId}`);
    const { file: folder } = await fileUnary(
      files,
      "createFolder",
      { parent_id: "", name: `bench-graph-${tag}` },
      owner,
    );
    const file = await uploadFile(files, owner, {
      parentId: folder.id,
      name: "checked",
      block: randomBytes(1024),
      size: 1024,
      chunk: 1024,
    });
    const { grant } = await fileUnary(
      permissions,
      "createGrant",
      { file_id: folder.id, grant: { subject: `group:${a.id}`, role: "viewer" } },
      owner,
    );
    const check = { resource: `file:${file.id}`, permission: "read" };
    const asked = await fileUnary(
      permissions,
      "check",
      { ...check, min_revision: grant.revision },
      bearer(tokenUser.token),
    );
    if (!asked.allowed) {
      throw new Error(`seed: the token user is not allowed to read ${check.resource} through group:${b.id}`);
    }
    log?.(`seeded user → group:${b.id} → group:${a.id} → viewer of folder ${folder.id} → ${check.resource}`);
    return { check, groups: [a.id, b.id], folderId: folder.id, fileId: file.id, revision: grant.revision };
  } finally {
    for (const c of [auth, files, users, permissions]) c.close();
  }
}
