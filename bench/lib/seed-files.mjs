// Seed data of the file scenarios (`bench.seed.files`), through the public API: `users` bench
// users (bench-file-<i>@bench.filemesh.example) logged in, a bench folder in each one's home, and
// in it `count` READY files of `size` random bytes (UploadFile), with the object key
// of each (from its presigned download URL) for the MinIO-direct baselines. `cleanup()`
// deletes the folders for good (rows, tuples, quota and objects).
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SERVICES } from "../../scripts/lib/mesh.mjs";
import { bearer, deleteFile, fileClients, unary as fileUnary, uploadFile } from "./file-client.mjs";
import { authClient, seedUsers, unary } from "./seed.mjs";

/** The MinIO the file service uses, from the mesh's environment. */
export const s3Of = (env) => ({
  endpoint: env.S3_ENDPOINT,
  bucket: env.S3_BUCKET,
  region: env.S3_REGION,
  accessKeyId: env.S3_ACCESS_KEY_ID,
  secretAccessKey: env.S3_SECRET_ACCESS_KEY,
});

/** Resolves with { path (the seed JSON for file-loop.mjs), seed, cleanup }. */
export async function seedFiles({ root, authAddr, fileAddr, spec, env, path, log }) {
  const count = spec.users ?? 1;
  const { users: logins } = await seedUsers({ root, addr: authAddr, count, prefix: "bench-file" });
  const auth = authClient(root, authAddr);
  const [files] = fileClients(root, fileAddr);
  const tag = randomBytes(4).toString("hex");
  const users = [];
  try {
    for (const login of logins) {
      const { access_token: token } = await unary(auth, "login", login);
      const md = bearer(token);
      const { file: folder } = await fileUnary(
        files,
        "createFolder",
        { parent_id: "", name: `bench-${tag}` },
        md,
      );
      users.push({ email: login.email, token, folderId: folder.id, files: [] });
    }
    const per = spec.size ? (spec.count ?? 1) : 0;
    if (per) log(`seeding ${per * users.length} files of ${spec.size} bytes`);
    const block = randomBytes(Math.min(spec.size ?? 0, 16 << 20) || 1);
    for (const u of users) {
      const md = bearer(u.token);
      for (let k = 0; k < per; k++) {
        const f = await uploadFile(files, md, {
          parentId: u.folderId,
          name: `seed-${k}`,
          block,
          size: spec.size,
          chunk: 1 << 20,
        });
        const { url } = await fileUnary(files, "getDownloadUrl", { file_id: f.id }, md);
        // Path-style presigned URL: /<bucket>/<object key>?X-Amz-…
        const objectKey = decodeURIComponent(new URL(url).pathname.split("/").slice(2).join("/"));
        u.files.push({ id: f.id, objectKey, size: spec.size });
      }
    }
  } finally {
    auth.close();
  }
  const seed = { users, s3: s3Of(env) };
  writeFileSync(path, `${JSON.stringify(seed)}\n`, { mode: 0o600 });
  return {
    path,
    seed,
    cleanup: async () => {
      for (const u of users) await deleteFile(files, bearer(u.token), u.folderId).catch(() => {});
      files.close();
    },
  };
}

/** The seed of `spec` in this mesh, made once and shared by a scenario and its baselines. */
export function seedFor(ctx, spec, name) {
  const key = JSON.stringify(spec);
  ctx.fileSeeds ??= new Map();
  if (!ctx.fileSeeds.has(key)) {
    ctx.fileSeeds.set(
      key,
      seedFiles({
        root: ctx.root,
        authAddr: `${ctx.host}:${SERVICES.auth}`,
        fileAddr: `${ctx.host}:${SERVICES.file}`,
        spec,
        env: ctx.meshEnv ?? {},
        path: join(ctx.runDir, `${name}.seed.json`),
        log: (m) => ctx.log(`${name}: ${m}`),
      }),
    );
  }
  return ctx.fileSeeds.get(key);
}

/** Deletes every seed made since the last call (after each scenario). */
export async function cleanupSeeds(ctx) {
  const seeds = [...(ctx.fileSeeds?.values() ?? [])];
  ctx.fileSeeds = new Map();
  for (const s of seeds) await (await s.catch(() => undefined))?.cleanup();
}
