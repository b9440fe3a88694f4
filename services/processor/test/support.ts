// A mesh of its own for processor tests: a fresh database and a private nats-server, so the
// relays of other test files (which share filemesh_test's outbox tables) cannot publish this
// test's events elsewhere, and no other processor consumes them. Plus an admin and helpers.
import { randomBytes } from "node:crypto";
import { processorv1 } from "@filemesh/contracts";
import { call, type OwnNats, ownNatsServer, privateDatabase, uniqueId } from "@filemesh/kit/testing";
import pg from "pg";
import { setAdmin } from "../../../scripts/admin.mjs";
import { type ServiceName, startTestMesh, type TestMesh } from "../../../test/harness/mesh.js";

export interface ProcessorMesh {
  mesh: TestMesh;
  nats: OwnNats;
  databaseUrl: string;
  /** A pool on the mesh's database (for assertions). */
  pool: pg.Pool;
  admin: { userId: string; headers: Record<string, string> };
  /** ListAuditEvents as the admin, on the mesh's processor or the one given. */
  listAudit(
    req: Partial<processorv1.ListAuditEventsRequest>,
    client?: processorv1.ProcessorServiceClient,
  ): Promise<processorv1.ListAuditEventsResponse>;
  stop(): Promise<void>;
}

// privateDatabase lives in the kit's testing module (file tests use it too); re-exported for
// the suites that import it from here.
export { privateDatabase };

export async function startProcessorMesh(
  o: {
    services?: ServiceName[];
    env?: Record<string, string>;
    serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  } = {},
): Promise<ProcessorMesh> {
  const db = await privateDatabase();
  const nats = await ownNatsServer();
  const adminEmail = `${uniqueId("admin")}@example.com`;
  let mesh: TestMesh;
  try {
    mesh = await startTestMesh({
      services: o.services ?? ["auth", "processor"],
      env: { DATABASE_URL: db.url, NATS_URL: nats.url, ...o.env },
      serviceEnv: {
        ...o.serviceEnv,
        processor: { RETRY_BACKOFF: "100ms,200ms,400ms", ...o.serviceEnv?.processor },
      },
    });
  } catch (err) {
    await nats.cleanup();
    await db.drop();
    throw err;
  }
  const password = `pw-${randomBytes(12).toString("hex")}`;
  const reg = await call(mesh.auth.register.bind(mesh.auth), {
    email: adminEmail,
    password,
    displayName: "Admin",
  });
  await setAdmin({ databaseUrl: db.url }, adminEmail, true);
  const login = await call(mesh.auth.login.bind(mesh.auth), { email: adminEmail, password });
  const headers = { authorization: `Bearer ${login.accessToken}` };
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  pool.on("error", () => undefined);
  return {
    mesh,
    nats,
    databaseUrl: db.url,
    pool,
    admin: { userId: reg.user!.id, headers },
    listAudit: (req, client = mesh.processor) =>
      call(client.listAuditEvents.bind(client), processorv1.ListAuditEventsRequest.fromPartial(req), headers),
    async stop() {
      await mesh.stop();
      await pool.end();
      await nats.cleanup();
      await db.drop();
    },
  };
}

/** Polls `check` until it returns a value other than undefined/false; fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
