// A mesh of auth + user for the user service's tests, with the fake permission service (or
// the real one with `realPermission`), and small helpers around the user client.
import { randomBytes } from "node:crypto";
import type { userv1 } from "@filemesh/contracts";
import { call, testDatabaseUrl } from "@filemesh/kit/testing";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { startTestMesh, type TestMesh } from "../../../test/harness/mesh.js";
import { type FakePermission, startFakePermission } from "./fake-permission.js";

export interface UserTestMesh {
  mesh: TestMesh;
  fake: FakePermission | undefined;
  u: UserCalls;
  stop(): Promise<void>;
}

export async function startUserMesh(
  o: {
    realPermission?: boolean;
    permissionReplicas?: number;
    userEnv?: Record<string, string>;
    internalToken?: string;
  } = {},
): Promise<UserTestMesh> {
  const internalToken = o.internalToken ?? randomBytes(24).toString("base64url");
  const fake = o.realPermission ? undefined : await startFakePermission(internalToken);
  const mesh = await startTestMesh({
    services: o.realPermission ? ["auth", "permission", "user"] : ["auth", "user"],
    env: { INTERNAL_TOKEN: internalToken },
    replicas: { permission: o.permissionReplicas ?? 1 },
    serviceEnv: { user: { ...(fake ? { PERMISSION_ADDRS: fake.addr } : {}), ...o.userEnv } },
  });
  return {
    mesh,
    fake,
    u: userCalls(mesh.user),
    async stop() {
      await mesh.stop();
      await fake?.stop();
    },
  };
}

/**
 * One mesh per test file, started before its tests and stopped after them; the returned
 * object reads through to it, plus a small pool on the test database for assertions.
 */
export function useUserMesh(o: Parameters<typeof startUserMesh>[0] = {}) {
  let started: UserTestMesh | undefined;
  const db = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
  beforeAll(async () => {
    started = await startUserMesh(o);
  });
  afterAll(async () => {
    await started?.stop();
    await db.end();
  });
  const get = () => {
    if (!started) throw new Error("the mesh is not started yet");
    return started;
  };
  return {
    db,
    get mesh() {
      return get().mesh;
    },
    get fake() {
      return get().fake;
    },
    get u() {
      return get().u;
    },
  };
}

type H = Record<string, string>;

/** The user service's RPCs as promise-returning functions taking the caller's headers. */
export function userCalls(c: userv1.UserServiceClient) {
  return {
    getMe: (h: H) => call(c.getMe.bind(c), {}, h),
    updateMe: (req: userv1.UpdateMeRequest, h: H) => call(c.updateMe.bind(c), req, h),
    getUser: (userId: string, h: H) => call(c.getUser.bind(c), { userId }, h),
    lookupUser: (email: string, h: H) => call(c.lookupUser.bind(c), { email }, h),
    createGroup: (group: Partial<userv1.Group>, h: H, requestId = "") =>
      call(
        c.createGroup.bind(c),
        { group: { id: "", name: "", description: "", myRole: "", ...group }, requestId },
        h,
      ),
    getGroup: (groupId: string, h: H) => call(c.getGroup.bind(c), { groupId }, h),
    listGroups: (h: H, pageSize = 0, pageToken = "") =>
      call(c.listGroups.bind(c), { pageSize, pageToken }, h),
    deleteGroup: (groupId: string, h: H) => call(c.deleteGroup.bind(c), { groupId }, h),
    addMember: (groupId: string, member: string, h: H, role = "", requestId = "") =>
      call(c.addGroupMember.bind(c), { groupId, member, role, requestId }, h),
    listMembers: (groupId: string, h: H, pageSize = 0, pageToken = "") =>
      call(c.listGroupMembers.bind(c), { groupId, pageSize, pageToken }, h),
    removeMember: (groupId: string, memberId: string, h: H, requestId = "") =>
      call(c.removeGroupMember.bind(c), { groupId, memberId, requestId }, h),
  };
}

export type UserCalls = ReturnType<typeof userCalls>;
