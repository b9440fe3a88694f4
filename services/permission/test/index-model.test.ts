// The index (with the write planner in front of it, as in the service) against the reference
// model, in process: random graphs, every check and every "accessible" list compared, at
// several points in time (expiries pass without any write).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PERMISSIONS } from "../src/domain/model.js";
import { createAclIndex } from "../src/index/acl-index.js";
import { planUpdates, type TupleState } from "../src/store/tuple-writes.js";
import { commandsArb, universe } from "./acl-arbitraries.js";
import { createModel } from "./reference-model.js";

const T0 = 1_000_000;
const u = universe("m");
const subjects = [...u.users, ...u.groups, ...u.links];

describe("the index against the reference model", () => {
  it("answers every check and list like the model", () => {
    fc.assert(
      fc.property(
        commandsArb(u, [0, T0 + 10, T0 + 20, T0 - 5], 40),
        fc.constantFrom(T0, T0 + 15, T0 + 30),
        (cmds, now) => {
          const index = createAclIndex();
          const model = createModel();
          const state: TupleState = { rows: new Map(), slots: new Map() };
          for (const c of cmds) {
            for (const e of planUpdates(state, [c])) index.apply(e.op, e.tuple);
            model.apply(c.op, c.tuple);
          }
          // A copy bulk-loaded from the index's tuples (the snapshot path) answers the same.
          const copy = createAclIndex();
          copy.beginBulk();
          for (const t of index.tuples()) copy.apply("touch", t);
          copy.endBulk();
          for (const s of subjects) {
            for (const f of u.files) {
              expect(index.rankOn(s, f, now), `${s} on ${f}`).toBe(model.rank(s, f, now));
              expect(copy.rankOn(s, f, now), `copy: ${s} on ${f}`).toBe(model.rank(s, f, now));
              for (const p of PERMISSIONS) expect(index.check(s, f, p, now)).toBe(model.check(s, f, p, now));
            }
            for (const p of PERMISSIONS) {
              const want = model.accessible(s, p, now);
              const minRank = { read: 1, write: 2, share: 2, delete: 3 }[p];
              expect(index.accessible(s, minRank, now, "", 1000)).toEqual(want);
              // Paged in twos, the pages join up to the same list.
              const paged: typeof want = [];
              for (let after = ""; ; ) {
                const page = index.accessible(s, minRank, now, after, 2);
                paged.push(...page);
                if (page.length < 2) break;
                after = page[page.length - 1]!.resource;
              }
              expect(paged).toEqual(want);
            }
          }
          expect([...index.tuples()].length).toBe(model.size());
        },
      ),
      { numRuns: 300 },
    );
  });
});
