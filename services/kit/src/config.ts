// Typed configuration, parsed once from the environment at start-up. Every missing or invalid
// variable is collected and reported together; nothing is read at import time.

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;
type Parse<T> = (raw: string) => T;

export interface Field<T> {
  readonly env: string;
  readonly parse: Parse<T>;
  readonly default?: T | undefined;
  readonly optional?: boolean;
  /** Never echoed in error messages. */
  readonly secret?: boolean;
  readonly doc?: string;
}

type Spec = Record<string, Field<unknown>>;
export type ConfigOf<S extends Spec> = {
  [K in keyof S]: S[K] extends Field<infer T> ? (S[K]["optional"] extends true ? T | undefined : T) : never;
};

const field =
  <T>(parse: Parse<T>) =>
  (env: string, opts: Omit<Field<T>, "env" | "parse"> = {}): Field<T> => ({ env, parse, ...opts });

const fail = (msg: string): never => {
  throw new Error(msg);
};

export const str = field<string>((raw) => raw);
export const int = (
  env: string,
  opts: Omit<Field<number>, "env" | "parse"> & { min?: number; max?: number } = {},
) =>
  field<number>((raw) => {
    if (!/^-?\d+$/.test(raw.trim())) fail("must be an integer");
    const n = Number(raw);
    if (opts.min !== undefined && n < opts.min) fail(`must be >= ${opts.min}`);
    if (opts.max !== undefined && n > opts.max) fail(`must be <= ${opts.max}`);
    return n;
  })(env, opts);
export const bool = field<boolean>((raw) => {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  return fail("must be true or false");
});
export const url = (
  env: string,
  protocols: readonly string[],
  opts: Omit<Field<string>, "env" | "parse"> = {},
) =>
  field<string>((raw) => {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      return fail("must be a URL");
    }
    if (!protocols.includes(u.protocol.replace(/:$/, ""))) fail(`must use ${protocols.join(" or ")}`);
    return raw;
  })(env, opts);
export const list = field<string[]>((raw) =>
  raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
);
export const oneOf = <T extends string>(
  env: string,
  values: readonly T[],
  opts: Omit<Field<T>, "env" | "parse"> = {},
) =>
  field<T>((raw) => (values.includes(raw as T) ? (raw as T) : fail(`must be one of ${values.join(", ")}`)))(
    env,
    opts,
  );
/** Durations like "500ms", "30s", "15m", "12h", "7d" → milliseconds. */
export const duration = field<number>((raw) => {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(raw.trim());
  if (!m) return fail('must be a duration like "500ms", "30s", "15m", "12h" or "7d"');
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    m[2] as "ms" | "s" | "m" | "h" | "d"
  ];
  return Number(m[1]) * unit;
});

/** Parses `spec` from `env`, throwing one ConfigError that lists every problem. */
export function parseConfig<S extends Spec>(spec: S, env: Env = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, f] of Object.entries(spec)) {
    const raw = env[f.env];
    if (raw === undefined || raw === "") {
      if (f.default !== undefined) out[key] = f.default;
      else if (f.optional) out[key] = undefined;
      else problems.push(`${f.env} is required${f.doc ? ` (${f.doc})` : ""}`);
      continue;
    }
    try {
      out[key] = f.parse(raw);
    } catch (err) {
      const shown = f.secret
        ? ""
        : ` (got ${JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw)})`;
      problems.push(`${f.env} ${(err as Error).message}${shown}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}
