// Opaque page tokens (AIP-158): the cursor of the last item served, bound to the list it came
// from (method and scope, e.g. the caller and the group) and signed with HMAC-SHA256, so a
// tampered, forged or transplanted token is refused with INVALID_ARGUMENT.
import { createHmac, timingSafeEqual } from "node:crypto";
import { bad } from "./validate.js";

export interface PageTokens {
  /** A token that resumes `list` in `scope` after `cursor`. */
  issue(list: string, scope: string, cursor: string[]): string;
  /** The cursor of a token issued for the same list and scope; [] for an empty token. */
  read(token: string, list: string, scope: string): string[];
}

const MAX_TOKEN = 1024;

export const invalidPageToken = () =>
  bad("INVALID_PAGE_TOKEN", "page_token", "is not a token this list returned");
const MAC_BYTES = 18;

export function createPageTokens(key: Buffer): PageTokens {
  if (key.length < 32) throw new Error("page token key must be at least 32 bytes");
  const mac = (list: string, scope: string, body: string) =>
    createHmac("sha256", key).update(`${list}\n${scope}\n${body}`).digest().subarray(0, MAC_BYTES);
  const invalid = invalidPageToken;
  return {
    issue(list, scope, cursor) {
      const body = Buffer.from(JSON.stringify({ v: 1, c: cursor })).toString("base64url");
      return `${body}.${mac(list, scope, body).toString("base64url")}`;
    },
    read(token, list, scope) {
      if (token === "") return [];
      if (token.length > MAX_TOKEN) throw invalid();
      const [body, sig, extra] = token.split(".");
      if (!body || !sig || extra !== undefined) throw invalid();
      const given = Buffer.from(sig, "base64url");
      const want = mac(list, scope, body);
      if (given.length !== want.length || !timingSafeEqual(given, want)) throw invalid();
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
      } catch {
        throw invalid();
      }
      const c = (parsed as { v?: unknown; c?: unknown })?.c;
      if (
        (parsed as { v?: unknown }).v !== 1 ||
        !Array.isArray(c) ||
        !c.every((x) => typeof x === "string")
      ) {
        throw invalid();
      }
      return c as string[];
    },
  };
}
