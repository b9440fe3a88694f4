// Every parameterised statement of the services' pools as a named (prepared) statement: Postgres
// then parses, analyses and (after five runs, when its generic plan is no worse) plans each
// statement once per connection instead of once per query. Measured on this Postgres (one
// connection, 16 in flight, 20,000 queries each): a primary-key SELECT 46–48 → 27 µs of backend
// CPU, a two-column lookup 51 → 26–28, an UPDATE 129 → 76, an INSERT 113 → 82 µs. What JDBC does
// by default (prepareThreshold), done once here for every service instead of statement by
// statement (store/versions.ts named the download's query this way first).
//
// Left unnamed: statements without parameters (nothing to reuse: BEGIN, COMMIT, SET …), ones
// already named, and ones whose result columns are `*` (`SELECT *`, `RETURNING *`, `t.*`): a
// migration adding a column under a connection that prepared them would fail them with "cached
// plan must not change result type". Named columns keep their result type when tables grow.
// At most MAX_PER_CONNECTION statements are prepared on one connection (dynamic SQL cannot
// grow a backend's memory without bound). Behind PgBouncer's transaction pooling this needs
// `max_prepared_statements` (the chart sets it; docs/deploy.md "PgBouncer").
import { createHash } from "node:crypto";
import pg from "pg";
import { Pipeline, type PipelineStep } from "./pipeline.js";

export const MAX_PER_CONNECTION = 200; // PgBouncer's max_prepared_statements in the chart
/** Result columns given as `*`: `SELECT *`, `SELECT DISTINCT *`, `RETURNING *`, `, *`, `t.*`. */
const STAR_COLUMNS = /(?:\bselect\s+(?:distinct\s+)?|\breturning\s+|,\s*|\.)\*/i;

const names = new Map<string, string | null>();

/** The statement name for `text`, or undefined when it is left unnamed. */
export function statementName(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined) {
    name = STAR_COLUMNS.test(text)
      ? null
      : `fm_${createHash("sha1").update(text).digest("hex").slice(0, 24)}`;
    if (names.size < 10_000) names.set(text, name);
  }
  return name ?? undefined;
}

type Callback = (...args: unknown[]) => void;
interface TextConfig {
  text: string;
  name?: string;
  values?: unknown[];
  submit?: unknown;
}

/** A query config of text (and values, options) that names no statement and is no Submittable. */
function plainText(config: unknown): TextConfig | undefined {
  if (config === null || typeof config !== "object") return undefined;
  const c = config as TextConfig;
  return typeof c.text === "string" && c.name === undefined && typeof c.submit !== "function" ? c : undefined;
}

/** The parts of pg's Client (untyped) a pipeline's ParseComplete goes through. */
interface PgInternals {
  _getActiveQuery(): unknown;
  _handleParseComplete(this: unknown): void;
  connection: Parameters<Pipeline["parseComplete"]>[0];
}

interface Recorded extends PipelineStep {
  resolve(result: pg.QueryResult): void;
  reject(err: Error): void;
}

/**
 * pg's Client with parameterised statements named (see above; not with `prepareStatements:
 * false`); a pool's `Client` option.
 * Corked (inTransaction does it for the transaction's length), the statements issued before
 * the next tick go to Postgres as one pipeline (pipeline.ts); a lone one is sent as usual.
 */
export class PreparingClient extends pg.Client {
  readonly #prepared = new Set<string>();
  /** False (`prepareStatements: false` in the pool's options): statements stay unnamed. */
  readonly #prepare: boolean;
  #corked = false;
  #pending: Recorded[] = [];
  #tick = false;
  readonly #flushTick = () => {
    this.#tick = false;
    this.#flush();
  };

  constructor(config?: string | (pg.ClientConfig & { prepareStatements?: boolean })) {
    super(config);
    this.#prepare = typeof config !== "object" || config.prepareStatements !== false;
  }

  #name(text: string): string | undefined {
    if (!this.#prepare) return undefined;
    const name = statementName(text);
    if (name === undefined || this.#prepared.has(name)) return name;
    if (this.#prepared.size >= MAX_PER_CONNECTION) return undefined;
    this.#prepared.add(name);
    return name;
  }

  /** From now on, statements issued in one turn go together (promise-style text queries). */
  cork(): void {
    this.#corked = true;
  }

  /** Sends what is waiting and goes back to one statement at a time. */
  uncork(): void {
    this.#flush();
    this.#corked = false;
  }

  #record(text: string, values: unknown[] | undefined): Promise<pg.QueryResult> {
    const name = values && values.length > 0 ? this.#name(text) : undefined;
    return new Promise<pg.QueryResult>((resolve, reject) => {
      this.#pending.push({ text, name, values, resolve, reject });
      if (!this.#tick) {
        this.#tick = true;
        process.nextTick(this.#flushTick);
      }
    });
  }

  #flush(): void {
    const steps = this.#pending;
    if (steps.length === 0) return;
    this.#pending = [];
    if (steps.length === 1) {
      const s = steps[0]!;
      const config = s.name
        ? { name: s.name, text: s.text, values: s.values }
        : { text: s.text, values: s.values };
      (super.query(config) as Promise<pg.QueryResult>).then(s.resolve, s.reject);
      return;
    }
    // biome-ignore lint/suspicious/noExplicitAny: pg keeps its type parsers on the client.
    const types = (this as any)._types;
    super.query(
      new Pipeline(steps, types, (err, results, failedAt) => {
        if (err) {
          for (const [i, s] of steps.entries()) {
            if (i < failedAt!) s.resolve(results?.[i] as pg.QueryResult);
            else s.reject(err);
          }
        } else {
          for (const [i, s] of steps.entries()) s.resolve(results![i]!);
        }
      }) as never,
    );
  }

  // pg records a prepared statement as parsed on its ParseComplete, from the query it serves;
  // a pipeline knows which of its statements that is.
  _handleParseComplete(): void {
    const self = this as unknown as PgInternals;
    const active = self._getActiveQuery();
    if (active instanceof Pipeline) active.parseComplete(self.connection);
    else (pg.Client.prototype as unknown as PgInternals)._handleParseComplete.call(this);
  }

  // biome-ignore lint/suspicious/noExplicitAny: pg's query is overloaded many ways; this passes them all through.
  override query(config: any, values?: any, callback?: any): any {
    const c = plainText(config);
    if (this.#corked && callback === undefined && typeof values !== "function") {
      if (typeof config === "string") return this.#record(config, Array.isArray(values) ? values : undefined);
      if (c && Object.keys(c).every((k) => k === "text" || k === "values")) {
        return this.#record(c.text, Array.isArray(values) ? values : c.values);
      }
    }
    this.#flush(); // anything else keeps its place after what is waiting
    if (typeof config === "string" && Array.isArray(values) && values.length > 0) {
      const name = this.#name(config);
      if (name) return super.query({ name, text: config, values }, callback as Callback);
    } else if (c) {
      const v = Array.isArray(values) ? values : c.values;
      if (v && v.length > 0) {
        const name = this.#name(c.text);
        if (name) {
          const cb = typeof values === "function" ? values : callback;
          return super.query({ ...c, name, values: v }, cb as Callback);
        }
      }
    }
    return super.query(config, values, callback);
  }
}
