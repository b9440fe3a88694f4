import { bool, commonSpec, databaseSpec, natsSpec, parseConfig, redisSpec } from "@filemesh/kit";

export const userSpec = {
  ...commonSpec("user"),
  ...databaseSpec(),
  ...redisSpec(),
  ...natsSpec(),
  /** Create profiles from auth's user_registered events (off: only lazily on first use). */
  profileConsumer: bool("PROFILE_CONSUMER", { default: true }),
};

export type UserConfig = ReturnType<typeof loadUserConfig>;

export function loadUserConfig(env: Record<string, string | undefined> = process.env) {
  return parseConfig(userSpec, env);
}
