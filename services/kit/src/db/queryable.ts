import type pg from "pg";

/** Anything with pg's `query`: a PoolClient inside the caller's BEGIN/COMMIT, a Client, a Pool. */
export type Queryable = Pick<pg.PoolClient, "query">;
