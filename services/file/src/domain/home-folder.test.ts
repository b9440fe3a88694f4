// targetFolder's home folder: looked up by owner once per user, then read by id with the other
// reads of the turn (and whether the name is taken in it) — never another user's home, and a
// row that is no longer the user's live home is looked up again. Pure logic: the statements and
// reads are recorded fakes (the real ones run in test/conformance and services/file/test).
import type { CallContext } from "@filemesh/kit";
import { describe, expect, it } from "vitest";
import type { FileRow } from "../store/files.js";
import { targetFolder } from "./access.js";
import type { FileDeps } from "./deps.js";

const home = (userId: string, over: Partial<FileRow> = {}) =>
  ({ id: `home-of-${userId}`, home_of: userId, kind: 2, trash_time: null, ...over }) as FileRow;

function fakeDeps(rows: Map<string, FileRow>) {
  const lookedUp: string[] = [];
  const readById: string[] = [];
  const deps = {
    pool: {
      async query(text: string, values: unknown[]) {
        if (!/WHERE home_of = \$1/.test(text)) throw new Error(`unexpected statement ${text}`);
        lookedUp.push(values[0] as string);
        const row = [...rows.values()].find((r) => r.home_of === values[0] && !r.trash_time);
        return { rows: row ? [row] : [] };
      },
    },
    reads: {
      async folderAndChild(_ctx: unknown, id: string, name: string) {
        readById.push(`${id}/${name}`);
        const row = rows.get(id);
        return row && { ...row, name_taken: name === "taken.txt" };
      },
      async file(_ctx: unknown, id: string) {
        readById.push(id);
        return rows.get(id);
      },
    },
  } as unknown as FileDeps;
  return { deps, lookedUp, readById };
}

const as = (userId: string) => ({ principal: { userId, subject: `user:${userId}` } }) as CallContext;

describe("targetFolder: the caller's home", () => {
  it("is looked up once per user, then read by id with whether the name is taken", async () => {
    const rows = new Map([home("a"), home("b")].map((r) => [r.id, r]));
    const { deps, lookedUp, readById } = fakeDeps(rows);
    expect((await targetFolder(deps, as("a"), "", "x.txt")).id).toBe("home-of-a");
    const again = await targetFolder(deps, as("a"), "", "taken.txt");
    expect(again).toMatchObject({ id: "home-of-a", name_taken: true });
    expect((await targetFolder(deps, as("a"), "")).id).toBe("home-of-a");
    expect(lookedUp).toEqual(["a"]);
    expect(readById).toEqual(["home-of-a/taken.txt", "home-of-a"]);
    // Another user never gets the first one's home, before or after theirs is known.
    expect((await targetFolder(deps, as("b"), "", "x.txt")).id).toBe("home-of-b");
    expect((await targetFolder(deps, as("b"), "", "x.txt")).id).toBe("home-of-b");
    expect((await targetFolder(deps, as("a"), "", "x.txt")).id).toBe("home-of-a");
    expect(lookedUp).toEqual(["a", "b"]);
  });

  it("looks a home up again when the row read by id is not the user's live home", async () => {
    const rows = new Map([home("c")].map((r) => [r.id, r]));
    const { deps, lookedUp } = fakeDeps(rows);
    await targetFolder(deps, as("c"), "", "x.txt");
    // The known id now names a row that is someone else's (or trashed): not taken as the home.
    rows.set("home-of-c", home("d", { id: "home-of-c" }));
    rows.set("home-of-c2", home("c", { id: "home-of-c2" }));
    expect((await targetFolder(deps, as("c"), "", "x.txt")).id).toBe("home-of-c2");
    rows.set("home-of-c2", home("c", { id: "home-of-c2", trash_time: new Date() }));
    rows.set("home-of-c3", home("c", { id: "home-of-c3" }));
    expect((await targetFolder(deps, as("c"), "", "x.txt")).id).toBe("home-of-c3");
    expect(lookedUp).toEqual(["c", "c", "c"]);
  });
});
