// Seed data over the public API (never behind the service's back): users registered through
// AuthService/Register, checked with one Login so a wrong pepper or password fails fast.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { credentials, loadPackageDefinition, Metadata, status } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";

export const BENCH_PASSWORD = "bench-login-password-7f3c";

export const unary = (client, method, req, md = new Metadata()) =>
  new Promise((resolve, reject) =>
    client[method](req, md, { deadline: Date.now() + 30_000 }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );

// Messages from the descriptor image keep the proto field names (snake_case): proto-loader's
// keepCase applies to .proto sources only.
export function authClient(root, addr) {
  const image = readFileSync(join(root, "gen", "filemesh.binpb"));
  const pkg = loadPackageDefinition(loadFileDescriptorSetFromBuffer(image, { keepCase: false }));
  return new pkg.filemesh.auth.v1.AuthService(addr, credentials.createInsecure());
}

/**
 * Registers `count` users (`<prefix>-<i>@bench.filemesh.example`, one shared password), reusing
 * ones that already exist; resolves with their Login requests `{ email, password }`.
 */
export async function seedUsers({ root, addr, count, concurrency = 4, prefix = "bench" }) {
  const client = authClient(root, addr);
  const users = Array.from({ length: count }, (_, i) => ({
    email: `${prefix}-${i}@bench.filemesh.example`,
    password: BENCH_PASSWORD,
  }));
  let created = 0;
  let next = 0;
  const worker = async () => {
    while (next < users.length) {
      const user = users[next++];
      try {
        await unary(client, "register", { ...user, display_name: "bench user" });
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

export const TOKEN_USER = { email: "bench-token@bench.filemesh.example", password: BENCH_PASSWORD };

/**
 * A valid access token for authenticated scenarios: a dedicated user (registered if needed)
 * whose earlier sessions are ended first (Logout all), so it has exactly one live session and
 * ListSessions stays one row whatever earlier runs left. Resolves with { token, userId, sessionId }.
 */
export async function seedToken({ root, addr }) {
  const client = authClient(root, addr);
  const bearer = (t) => {
    const md = new Metadata();
    md.set("authorization", `Bearer ${t}`);
    return md;
  };
  try {
    await unary(client, "register", { ...TOKEN_USER, display_name: "bench token user" }).catch((err) => {
      if (err.code !== status.ALREADY_EXISTS)
        throw new Error(`seed: Register ${TOKEN_USER.email}: ${err.message}`);
    });
    const first = await unary(client, "login", TOKEN_USER);
    await unary(client, "logout", { all_sessions: true }, bearer(first.access_token));
    const res = await unary(client, "login", TOKEN_USER);
    return { token: res.access_token, userId: res.user_id, sessionId: res.session_id };
  } finally {
    client.close();
  }
}
