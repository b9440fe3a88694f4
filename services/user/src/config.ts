import { bool, commonSpec, databaseSpec, duration, natsSpec, parseConfig, redisSpec } from "@filemesh/kit";

export const userSpec = {
  ...commonSpec("user"),
  ...databaseSpec(),
  ...redisSpec(),
  ...natsSpec(),
  /** Create profiles from auth's user_registered events (off: only lazily on first use). */
  profileConsumer: bool("PROFILE_CONSUMER", { default: true }),
  /**
   * A membership intent this old is a change that did not commit after its write to the
   * permission service (its replica died, or its own repair gave up): any replica repairs it.
   */
  aclRepairAfterMs: duration("ACL_REPAIR_AFTER", { default: 60_000 }),
};

export type UserConfig = ReturnType<typeof loadUserConfig>;

export function loadUserConfig(env: Record<string, string | undefined> = process.env) {
  return parseConfig(userSpec, env);
}
