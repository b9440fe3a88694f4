// UpdateMe's field mask (AIP-134): named paths must be updatable; "*" means every updatable
// field; an empty mask means the updatable fields the request sets (non-empty).
import { bad } from "./validate.js";

export const UPDATABLE = ["display_name", "avatar_url", "bio"] as const;
export type Updatable = (typeof UPDATABLE)[number];

const ALIASES: Record<string, Updatable> = {
  display_name: "display_name",
  displayName: "display_name",
  avatar_url: "avatar_url",
  avatarUrl: "avatar_url",
  bio: "bio",
};
const KNOWN_READ_ONLY = new Set([
  "id",
  "email",
  "create_time",
  "createTime",
  "update_time",
  "updateTime",
  "home_folder_id",
  "homeFolderId",
]);

export function fieldsToUpdate(
  mask: readonly string[] | undefined,
  given: Record<Updatable, string>,
): Updatable[] {
  const paths = (mask ?? []).flatMap((p) => p.split(",")).map((p) => p.trim());
  if (paths.length === 0 || (paths.length === 1 && paths[0] === "")) {
    return UPDATABLE.filter((f) => given[f] !== "");
  }
  if (paths.length > 16) throw bad("INVALID_UPDATE_MASK", "update_mask", "names too many fields");
  const out = new Set<Updatable>();
  for (const p of paths) {
    if (p === "*") {
      for (const f of UPDATABLE) out.add(f);
      continue;
    }
    const f = ALIASES[p];
    if (f) out.add(f);
    else if (KNOWN_READ_ONLY.has(p)) {
      throw bad("FIELD_NOT_UPDATABLE", "update_mask", `${JSON.stringify(p.slice(0, 64))} cannot be changed`);
    } else
      throw bad(
        "INVALID_UPDATE_MASK",
        "update_mask",
        `${JSON.stringify(p.slice(0, 64))} is not a field of User`,
      );
  }
  return UPDATABLE.filter((f) => out.has(f));
}
