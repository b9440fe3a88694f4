// A mesh of auth + N permission replicas for the permission tests, with one client per
// replica and small helpers: relations written as the file or user service, grants and checks
// as an end user, each on a chosen replica.
import { permissionv1 } from "@filemesh/contracts";
import { call, captureLogger, uniqueId } from "@filemesh/kit/testing";
import { credentials } from "@grpc/grpc-js";
import { startTestMesh, type TestMesh } from "../../../test/harness/mesh.js";
import { type PermissionService, startPermission } from "../src/app.js";
import { loadPermissionConfig } from "../src/config.js";

type H = Record<string, string>;
const { RELATION_OPERATION_TOUCH: TOUCH, RELATION_OPERATION_DELETE: DELETE } = permissionv1.RelationOperation;

/** [op, object, relation, subject, expire?] */
export type Rel = ["touch" | "delete", string, string, string, Date?];

export function toUpdates(rels: Rel[]): permissionv1.RelationUpdate[] {
  return rels.map(([op, object, relation, subject, expireTime]) => ({
    operation: op === "touch" ? TOUCH : DELETE,
    relation: { object, relation, subject, ...(expireTime ? { expireTime } : {}) },
  }));
}

export interface AclMesh {
  mesh: TestMesh;
  clients: permissionv1.PermissionServiceClient[];
  /** WriteRelations as the file service (or `caller`) on replica `i`; resolves to the revision. */
  write(
    rels: Rel[],
    o?: { i?: number; caller?: string; requestId?: string; forget?: string[]; fencingToken?: string },
  ): Promise<string>;
  check(
    h: H,
    resource: string,
    permission: string,
    o?: { i?: number; subject?: string; minRevision?: string },
  ): Promise<boolean>;
  createGrant(
    h: H,
    fileId: string,
    grant: Partial<permissionv1.Grant>,
    o?: { i?: number; requestId?: string },
  ): Promise<permissionv1.Grant>;
  listGrants(
    h: H,
    fileId: string,
    o?: { i?: number; pageSize?: number; pageToken?: string; minRevision?: string },
  ): Promise<permissionv1.ListGrantsResponse>;
  deleteGrant(h: H, fileId: string, grantId: string, i?: number): Promise<string>;
  listAccessible(
    h: H,
    o?: Partial<permissionv1.ListAccessibleRequest> & { i?: number },
  ): Promise<permissionv1.ListAccessibleResponse>;
  /** A fresh file id (and "file:<id>" ref). */
  newFile(): { id: string; ref: string };
  /** Stops replica `i` (if any) and starts a new one in its place (new port, same settings plus `env`). */
  restart(i: number, env?: H): Promise<PermissionService>;
  stop(): Promise<void>;
}

export async function startAclMesh(
  o: { replicas?: number; env?: H; permissionEnv?: H; authEnv?: H } = {},
): Promise<AclMesh> {
  const permissionEnv = { ACL_POLL_INTERVAL: "200ms", ACL_MAX_STALENESS: "3s", ...o.permissionEnv };
  const mesh = await startTestMesh({
    services: ["auth", "permission"],
    replicas: { permission: o.replicas ?? 2 },
    ...(o.env ? { env: o.env } : {}),
    serviceEnv: { permission: permissionEnv, ...(o.authEnv ? { auth: o.authEnv } : {}) },
  });
  const clients = mesh.runtimes.permission.map(
    (r) => new permissionv1.PermissionServiceClient(`127.0.0.1:${r.port}`, credentials.createInsecure()),
  );
  const c = (i = 0) => clients[i] ?? clients[0]!;
  return {
    mesh,
    clients,
    async write(rels, w = {}) {
      const client = c(w.i);
      const res = await call(
        client.writeRelations.bind(client),
        {
          updates: toUpdates(rels),
          requestId: w.requestId ?? "",
          forget: w.forget ?? [],
          fencingToken: w.fencingToken ?? "0",
        },
        mesh.serviceHeaders(w.caller ?? "file"),
      );
      return res.revision;
    },
    async check(h, resource, permission, q = {}) {
      const client = c(q.i);
      const res = await call(
        client.check.bind(client),
        { subject: q.subject ?? "", resource, permission, minRevision: q.minRevision ?? "" },
        h,
      );
      return res.allowed;
    },
    async createGrant(h, fileId, grant, q = {}) {
      const client = c(q.i);
      const res = await call(
        client.createGrant.bind(client),
        { fileId, grant: permissionv1.Grant.fromPartial(grant), requestId: q.requestId ?? "" },
        h,
      );
      return res.grant!;
    },
    listGrants: (h, fileId, q = {}) =>
      call(
        c(q.i).listGrants.bind(c(q.i)),
        { fileId, pageSize: q.pageSize ?? 0, pageToken: q.pageToken ?? "", minRevision: q.minRevision ?? "" },
        h,
      ),
    async deleteGrant(h, fileId, grantId, i) {
      return (await call(c(i).deleteGrant.bind(c(i)), { fileId, grantId }, h)).revision;
    },
    listAccessible: (h, { i, ...q } = {}) =>
      call(c(i).listAccessible.bind(c(i)), permissionv1.ListAccessibleRequest.fromPartial(q), h),
    async restart(i, env = {}) {
      await mesh.runtimes.permission[i]?.shutdown("test restart");
      clients[i]?.close();
      const { log } = captureLogger("permission", "info");
      const svc = await startPermission(loadPermissionConfig({ ...mesh.env, ...permissionEnv, ...env }), log);
      mesh.runtimes.permission[i] = svc.runtime;
      clients[i] = new permissionv1.PermissionServiceClient(
        `127.0.0.1:${svc.runtime.port}`,
        credentials.createInsecure(),
      );
      return svc;
    },
    newFile() {
      const id = uniqueId("f");
      return { id, ref: `file:${id}` };
    },
    async stop() {
      for (const cl of clients) cl.close();
      await mesh.stop();
    },
  };
}
