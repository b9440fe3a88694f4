// A stand-in PermissionService for the user service's own tests: WriteRelations keeps tuples
// in memory with a revision counter and checks the caller's service identity; `down` makes
// every call UNAVAILABLE. (The real service is exercised in permission-write-through.test.ts.)
import { permissionv1 } from "@filemesh/contracts";
import { Server, ServerCredentials, status } from "@grpc/grpc-js";

export interface FakePermission {
  addr: string;
  /** "object#relation@subject" currently held. */
  tuples: Set<string>;
  revision: number;
  calls: permissionv1.WriteRelationsRequest[];
  down: boolean;
  stop(): Promise<void>;
}

const { RELATION_OPERATION_TOUCH: TOUCH, RELATION_OPERATION_DELETE: DELETE } = permissionv1.RelationOperation;

export async function startFakePermission(internalToken: string): Promise<FakePermission> {
  const server = new Server();
  const fake: FakePermission = {
    addr: "",
    tuples: new Set(),
    revision: 0,
    calls: [],
    down: false,
    stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
  const unimplemented = (_call: unknown, cb: (err: { code: number; details: string }) => void) =>
    cb({ code: status.UNIMPLEMENTED, details: "fake" });
  const writeRelations: permissionv1.PermissionServiceServer["writeRelations"] = (call, cb) => {
    if (fake.down) return cb({ code: status.UNAVAILABLE, details: "fake is down" });
    const md = call.metadata;
    if (
      md.get("x-filemesh-service")[0] !== "user" ||
      md.get("x-filemesh-internal-token")[0] !== internalToken
    ) {
      return cb({ code: status.UNAUTHENTICATED, details: "no service identity" });
    }
    fake.calls.push(call.request);
    for (const u of call.request.updates) {
      const r = u.relation;
      if (!r || (u.operation !== TOUCH && u.operation !== DELETE)) {
        return cb({ code: status.INVALID_ARGUMENT, details: "bad update" });
      }
      const key = `${r.object}#${r.relation}@${r.subject}`;
      if (u.operation === TOUCH) fake.tuples.add(key);
      else fake.tuples.delete(key);
    }
    fake.revision += 1;
    cb(null, { revision: String(fake.revision) });
  };
  server.addService(permissionv1.PermissionServiceService, {
    writeRelations,
    check: unimplemented,
    checkBatch: unimplemented,
    listAccessible: unimplemented,
    createGrant: unimplemented,
    listGrants: unimplemented,
    deleteGrant: unimplemented,
    watchChanges: (call: { destroy(): void }) => call.destroy(),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  fake.addr = `127.0.0.1:${port}`;
  return fake;
}
