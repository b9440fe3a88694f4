// Home folders: with a file service that answers EnsureHomeFolder, GetMe fills in and stores
// home_folder_id (asking as service:user); the file service is then not asked again.
import { randomBytes } from "node:crypto";
import { filev1 } from "@filemesh/contracts";
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startUserMesh, type UserTestMesh } from "./start-user.js";

let t: UserTestMesh;
let server: Server;
const asked: string[] = [];

beforeAll(async () => {
  const token = randomBytes(24).toString("base64url");
  server = new Server();
  const ensureHomeFolder: filev1.FileServiceServer["ensureHomeFolder"] = (call, cb) => {
    const md = call.metadata;
    if (md.get("x-filemesh-service")[0] !== "user" || md.get("x-filemesh-internal-token")[0] !== token) {
      return cb({ code: status.UNAUTHENTICATED, details: "no service identity" });
    }
    asked.push(call.request.userId);
    cb(null, { folder: filev1.File.fromPartial({ id: `home-${call.request.userId}`, name: "Home" }) });
  };
  server.addService(filev1.FileServiceService, { ensureHomeFolder } as unknown as filev1.FileServiceServer);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  t = await startUserMesh({
    internalToken: token,
    userEnv: { FILE_ADDRS: `127.0.0.1:${port}`, PROFILE_CONSUMER: "false" },
  });
});
afterAll(async () => {
  await t.stop();
  server.forceShutdown();
});

it("fills in the home folder on GetMe and keeps it", async () => {
  const a = await t.mesh.newUser();
  expect((await t.u.getMe(a.headers)).user?.homeFolderId).toBe(`home-${a.userId}`);
  expect((await t.u.getMe(a.headers)).user?.homeFolderId).toBe(`home-${a.userId}`);
  expect(asked.filter((id) => id === a.userId)).toHaveLength(1);
  // Others never see it.
  const b = await t.mesh.newUser();
  expect((await t.u.getUser(a.userId, b.headers)).user?.homeFolderId).toBe("");
});
