// Statements of one transaction sent to Postgres together (the extended protocol's pipelining):
// a transaction's statements issued in the same turn of the event loop (before its next tick)
// go in one socket write, each Parse/Bind/Describe/Execute, then one Sync, and come back in
// one round trip. Postgres runs them in order, each with its own snapshot, as if sent one by
// one; after a failing statement it skips the rest until the Sync, so a statement never runs
// after one before it failed. Code that awaits each statement still sends them one by one;
// statements issued together (settleAll, beforeCommit, a transaction's BEGIN and its first
// statement) share the trip. The profile showed why it matters: a socket write per statement
// was 23 % of the file service's busy time in `file-upload-small` (one writev, one wake-up of
// Postgres and one turn of the event loop per statement).
import pg from "pg";

/** One statement of a pipeline: text, its prepared name (when named) and values. */
export interface PipelineStep {
  text: string;
  name?: string | undefined;
  values?: unknown[] | undefined;
}

/** The parts of pg's Connection a pipeline writes with. */
interface Connection {
  stream: { cork?(): void; uncork?(): void };
  parsedStatements: Record<string, string>;
  parse(m: { text: string; name: string; types?: unknown }): void;
  bind(m: {
    portal: string;
    statement: string;
    values: unknown[];
    binary: boolean;
    valueMapper: unknown;
  }): void;
  describe(m: { type: "P"; name: string }): void;
  execute(m: { portal: string; rows: number }): void;
  sync(): void;
  sendCopyFail(message: string): void;
}

/** pg's Result as a query builds it (its typings show only the outcome). */
interface Building {
  addFields(fields: unknown[]): void;
  addRow(row: unknown): void;
  parseRow(fields: unknown[]): unknown;
  addCommandComplete(msg: unknown): void;
}
type ResultClass = new (rowMode: undefined, types: unknown) => Building;
const { Result, utils } = pg as unknown as { Result: ResultClass; utils: { prepareValue: unknown } };

type Done = (err: Error | null, results?: pg.QueryResult[], failedAt?: number) => void;

/**
 * A pg "Submittable" running its steps as one pipeline: pg's Client serves it as one query and
 * hands it every message until Postgres is ready again. `callback` gets every step's result,
 * or the first error and the index of the step that failed (those after it did not run).
 */
export class Pipeline {
  readonly #steps: readonly PipelineStep[];
  readonly #results: Building[];
  /** The steps whose Parse was sent, in order: ParseComplete messages name none. */
  readonly #parses: PipelineStep[] = [];
  #parsed = 0;
  #current = 0;
  #rowError: Error | undefined;
  #rowErrorAt = 0;
  #done = false;
  callback: Done | undefined;

  constructor(steps: readonly PipelineStep[], types: unknown, callback?: Done) {
    this.#steps = steps;
    this.#results = steps.map(() => new Result(undefined, types));
    this.callback = callback;
  }

  submit(connection: Connection): Error | null {
    const parsed = connection.parsedStatements;
    const here = new Set<string>();
    for (const s of this.#steps) {
      const known = s.name ? parsed[s.name] : undefined;
      if (s.name && known !== undefined && known !== s.text) {
        return new Error(
          `Prepared statements must be unique - '${s.name}' was used for a different statement`,
        );
      }
    }
    connection.stream.cork?.();
    try {
      for (const s of this.#steps) {
        const name = s.name ?? "";
        if (!name || (parsed[name] === undefined && !here.has(name))) {
          connection.parse({ text: s.text, name });
          this.#parses.push(s);
          if (name) here.add(name);
        }
        connection.bind({
          portal: "",
          statement: name,
          values: s.values ?? [],
          binary: false,
          valueMapper: utils.prepareValue,
        });
        connection.describe({ type: "P", name: "" });
        connection.execute({ portal: "", rows: 0 });
      }
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  /** A ParseComplete: the next Parse sent succeeded (a named one is now prepared). */
  parseComplete(connection: Connection): void {
    const s = this.#parses[this.#parsed++];
    if (s?.name) connection.parsedStatements[s.name] = s.text;
  }

  handleRowDescription(msg: { fields: unknown[] }): void {
    this.#results[this.#current]?.addFields(msg.fields);
  }

  handleDataRow(msg: { fields: unknown[] }): void {
    const result = this.#results[this.#current];
    if (!result || this.#rowError) return;
    try {
      result.addRow(result.parseRow(msg.fields));
    } catch (err) {
      this.#rowError = err as Error;
      this.#rowErrorAt = this.#current;
    }
  }

  handleCommandComplete(msg: unknown): void {
    this.#results[this.#current]?.addCommandComplete(msg);
    this.#current++;
  }

  handleEmptyQuery(): void {
    this.#current++;
  }

  handleError(err: Error): void {
    this.#finish(err, this.#current);
  }

  handleReadyForQuery(): void {
    if (this.#rowError) this.#finish(this.#rowError, this.#rowErrorAt);
    else this.#finish(null, -1);
  }

  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: Connection): void {
    connection.sendCopyFail("No source stream defined");
  }

  handleCopyData(): void {}

  #finish(err: Error | null, failedAt: number): void {
    if (this.#done) return;
    this.#done = true;
    if (err) this.callback?.(err, undefined, Math.max(0, Math.min(failedAt, this.#steps.length - 1)));
    else this.callback?.(null, this.#results as unknown as pg.QueryResult[]);
  }
}

/**
 * Awaits every promise (statements issued together, or work that issues them), then throws the
 * first failure in the order given. Unlike Promise.all nothing is left running after it
 * throws: no statement of a branch still in flight lands after the caller's ROLLBACK, outside
 * the transaction.
 */
export async function settleAll<T extends readonly unknown[]>(
  promises: { [K in keyof T]: Promise<T[K]> },
): Promise<T> {
  const settled = await Promise.allSettled(promises);
  for (const s of settled) if (s.status === "rejected") throw s.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

const tails = new WeakMap<object, Promise<unknown>[]>();

/**
 * A statement (or work) of a transaction whose result the transaction does not wait for: it is
 * sent with the COMMIT that follows it (one round trip instead of two) and its failure fails
 * the transaction (inTransaction throws it and rolls back). Only inside inTransaction's `fn`.
 */
export function beforeCommit(tx: object, work: Promise<unknown>): void {
  work.catch(() => {}); // observed by inTransaction, after the COMMIT
  const list = tails.get(tx);
  if (list) list.push(work);
  else tails.set(tx, [work]);
}

/** The work beforeCommit registered on `tx`, forgotten as it is taken. */
export function takeBeforeCommit(tx: object): Promise<unknown>[] {
  const list = tails.get(tx);
  if (list) tails.delete(tx);
  return list ?? [];
}
