// Seed data over the public API (never behind the service's back): users registered through
// AuthService/Register, checked with one Login so a wrong pepper or password fails fast.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { credentials, loadPackageDefinition, status } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";

export const BENCH_PASSWORD = "bench-login-password-7f3c";

const unary = (client, method, req) =>
  new Promise((resolve, reject) =>
    client[method](req, { deadline: Date.now() + 30_000 }, (err, res) => (err ? reject(err) : resolve(res))),
  );

function authClient(root, addr) {
  const image = readFileSync(join(root, "gen", "filemesh.binpb"));
  const pkg = loadPackageDefinition(loadFileDescriptorSetFromBuffer(image, { keepCase: false }));
  return new pkg.filemesh.auth.v1.AuthService(addr, credentials.createInsecure());
}

/**
 * Registers `count` users (`bench-<i>@bench.filemesh.example`, one shared password), reusing
 * ones that already exist; resolves with their Login requests `{ email, password }`.
 */
export async function seedUsers({ root, addr, count, concurrency = 4 }) {
  const client = authClient(root, addr);
  const users = Array.from({ length: count }, (_, i) => ({
    email: `bench-${i}@bench.filemesh.example`,
    password: BENCH_PASSWORD,
  }));
  let created = 0;
  let next = 0;
  const worker = async () => {
    while (next < users.length) {
      const user = users[next++];
      try {
        await unary(client, "register", { ...user, displayName: "bench user" });
        created++;
      } catch (err) {
        if (err.code === status.ALREADY_EXISTS) continue;
        const hint =
          err.code === status.RESOURCE_EXHAUSTED ? " (the target's RATE_LIMITS must allow the bench)" : "";
        throw new Error(`seed: Register ${user.email}: ${err.message}${hint}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
    await unary(client, "login", users[0]).catch((err) => {
      throw new Error(
        `seed: Login as ${users[0].email} failed (${err.message}); the users exist with another ` +
          "password or pepper — use a fresh database or the dev secrets in .tmp/dev",
      );
    });
  } finally {
    client.close();
  }
  return { users, created };
}
