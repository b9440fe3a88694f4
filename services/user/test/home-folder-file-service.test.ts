// With the real file service: GetMe answers the user's home folder, and the user can read it
// (the file service wrote its owner tuple). The user service is started after the file
// service here, so it is given the file service's address.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { filev1, userv1 } from "@filemesh/contracts";
import type { Runtime } from "@filemesh/kit";
import { call, captureLogger } from "@filemesh/kit/testing";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestMesh, type TestMesh } from "../../../test/harness/mesh.js";
import { startUserService } from "../src/app.js";
import { loadUserConfig } from "../src/config.js";

let mesh: TestMesh;
let user: Runtime;
let client: userv1.UserServiceClient;
const blobDir = mkdtempSync(join(tmpdir(), "filemesh-user-home-"));

beforeAll(async () => {
  mesh = await startTestMesh({
    services: ["auth", "permission", "file"],
    serviceEnv: { file: { BLOB_DRIVER: "fs", BLOB_DIR: blobDir } },
  });
  const { log } = captureLogger("user", "info");
  user = await startUserService(loadUserConfig({ ...mesh.env, PROFILE_CONSUMER: "false" }), log);
  client = new userv1.UserServiceClient(`127.0.0.1:${user.port}`, credentials.createInsecure());
});
afterAll(async () => {
  client.close();
  await user.shutdown("test end");
  await mesh.stop();
  rmSync(blobDir, { recursive: true, force: true });
});

it("answers the home folder from the file service, and it is the user's", async () => {
  const a = await mesh.newUser();
  const { user: me } = await call(client.getMe.bind(client), {}, a.headers);
  expect(me?.homeFolderId).not.toBe("");
  const f = mesh.file;
  const { file } = await call(
    f.getFile.bind(f),
    filev1.GetFileRequest.fromPartial({ fileId: me!.homeFolderId }),
    a.headers,
  );
  expect(file).toMatchObject({ id: me!.homeFolderId, kind: filev1.FileKind.FOLDER });
  expect((await call(client.getMe.bind(client), {}, a.headers)).user?.homeFolderId).toBe(me!.homeFolderId);
});
