// Refuses writes that would make the folder tree or the group graph cyclic, or deeper than
// the index follows. Runs inside the writer's transaction after the rows are written, so edges
// added by the same request count too. Writers are serialised, so no concurrent write can
// close a cycle this check did not see.
import { invalidArgument, settleAll } from "@filemesh/kit";
import { MAX_DEPTH } from "../domain/model.js";
import type { Q } from "./change-log.js";

/**
 * `walk` starts at each new edge's upper end and climbs; a cycle is climbing back to its lower
 * end. The step is a LATERAL subquery with a LIMIT, so each level is an index look-up per row
 * whatever the planner thinks of the table's size (a join here once turned into a full scan
 * and sort per level on a fast-growing table with stale statistics).
 */
const climb = (up: string) => `
  WITH RECURSIVE walk(start, cur, depth) AS (
    SELECT lo, hi, 1 FROM unnest($1::text[], $2::text[]) AS e(lo, hi)
    UNION ALL
    SELECT w.start, n.next, w.depth + 1 FROM walk w
    CROSS JOIN LATERAL (${up} LIMIT 100000) n
    WHERE w.cur <> w.start AND w.depth <= $3
  )
  SELECT start, bool_or(cur = start) AS cycle FROM walk GROUP BY start
  HAVING bool_or(cur = start) OR max(depth) > $3 LIMIT 1`;

const PARENTS = climb(
  "SELECT t.subject AS next FROM acl.tuples t WHERE t.object = w.cur AND t.relation = 'parent'",
);
const GROUPS = climb(
  "SELECT t.object AS next FROM acl.tuples t WHERE t.subject = w.cur AND t.relation IN ('member', 'admin')",
);

/** `edges`: [child, parent] for files, [member group, group] for groups. */
export async function refuseCycles(
  q: Q,
  parentEdges: [string, string][],
  groupEdges: [string, string][],
): Promise<void> {
  const checks = (
    [
      [PARENTS, parentEdges, "folder"],
      [GROUPS, groupEdges, "group"],
    ] as const
  ).filter(([, edges]) => edges.length > 0);
  // Both walks sent together (one round trip in a transaction: db/pipeline.ts).
  const found = await settleAll(
    checks.map(([sql, edges]) =>
      q.query<{ start: string; cycle: boolean }>(sql, [
        edges.map((e) => e[0]),
        edges.map((e) => e[1]),
        MAX_DEPTH,
      ]),
    ),
  );
  for (const [i, [, , what]] of checks.entries()) {
    const hit = found[i]!.rows[0];
    if (!hit) continue;
    throw hit.cycle
      ? invalidArgument(
          what === "folder" ? "PARENT_CYCLE" : "GROUP_CYCLE",
          `${hit.start} would end up inside itself`,
        )
      : invalidArgument(
          what === "folder" ? "PARENT_TOO_DEEP" : "GROUP_TOO_DEEP",
          `${hit.start} would be more than ${MAX_DEPTH} levels deep`,
        );
  }
}
