// Opaque page tokens (AIP-158): the sort key of the last item served, bound to the listing it
// came from (e.g. "children:<folder>:name") by an HMAC, so a forged or transplanted token is
// INVALID_ARGUMENT. The key is shared by every replica (files.secrets).
import { createHmac, timingSafeEqual } from "node:crypto";
import { invalidArgument } from "@filemesh/kit";

export interface PageTokens {
  issue(scope: string, cursor: string[]): string;
  /** [] for an empty token. */
  read(token: string, scope: string): string[];
}

const bad = () =>
  invalidArgument("INVALID_PAGE_TOKEN", "page_token does not belong to this listing", [
    { field: "page_token", description: "not a token this listing returned" },
  ]);

export function createPageTokens(key: Buffer): PageTokens {
  const sign = (scope: string, body: string) =>
    createHmac("sha256", key).update(scope).update("\n").update(body).digest().subarray(0, 16);
  return {
    issue(scope, cursor) {
      const body = Buffer.from(JSON.stringify(cursor)).toString("base64url");
      return `${body}.${sign(scope, body).toString("base64url")}`;
    },
    read(token, scope) {
      if (!token) return [];
      const [body, mac, rest] = token.length <= 2048 ? token.split(".") : [];
      if (!body || !mac || rest !== undefined) throw bad();
      const given = Buffer.from(mac, "base64url");
      const want = sign(scope, body);
      if (given.length !== want.length || !timingSafeEqual(given, want)) throw bad();
      const cursor: unknown = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
      if (!Array.isArray(cursor) || !cursor.every((c) => typeof c === "string")) throw bad();
      return cursor;
    },
  };
}

/** page_size: 0 → default, capped at max; negative → INVALID_ARGUMENT. */
export function pageSize(n: number, def = 100, max = 1000): number {
  if (n < 0) {
    throw invalidArgument("INVALID_PAGE_SIZE", "page_size must not be negative", [
      { field: "page_size", description: "negative" },
    ]);
  }
  return n === 0 ? def : Math.min(n, max);
}
