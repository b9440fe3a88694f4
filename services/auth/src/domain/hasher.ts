// Password hashing: bcrypt (native, on threads of its own at a lower CPU priority than the event
// loop, never on the loop itself: domain/hash-workers.ts) over base64(HMAC-SHA256(pepper,
// password)), so no byte past 72 is ignored. A bounded admission queue sheds excess work at once
// with RESOURCE_EXHAUSTED + RetryInfo instead of timing out.
import { createHmac } from "node:crypto";
import { resourceExhausted } from "@filemesh/kit";
import bcrypt from "bcrypt";
import { createHashWorkers } from "./hash-workers.js";

export interface HasherOptions {
  pepper: string;
  cost: number;
  /** Hashes running at once (one hash thread each). */
  concurrency: number;
  /** Hashes allowed to wait. */
  queue: number;
}

export interface Hasher {
  /** Throws LOGIN_OVERLOADED at once when a hash would be shed (call before any I/O). */
  admitOrShed(): void;
  hash(password: string): Promise<string>;
  /** Compares; with `hash` undefined, compares against a dummy hash so timing matches. */
  verify(password: string, hash: string | undefined): Promise<boolean>;
  readonly stats: { running: number; waiting: number; shed: number };
  /** Stops the hash threads (at shutdown). */
  close(): Promise<void>;
}

export function preHash(pepper: string, password: string): string {
  return createHmac("sha256", pepper).update(password.normalize("NFC"), "utf8").digest("base64");
}

export function createHasher(opts: HasherOptions): Hasher {
  const stats = { running: 0, waiting: 0, shed: 0 };
  const waiters: (() => void)[] = [];
  let avgMs = 50;
  const dummy = bcrypt.hashSync(preHash(opts.pepper, "filemesh-dummy-password"), opts.cost);
  const workers = createHashWorkers(opts.concurrency);

  const shed = () => {
    stats.shed++;
    const retryMs = Math.ceil(((stats.waiting + stats.running) / opts.concurrency) * avgMs);
    return resourceExhausted("LOGIN_OVERLOADED", "too many logins in progress; retry shortly", retryMs);
  };

  const admit = async <T>(work: () => Promise<T>): Promise<T> => {
    if (stats.running < opts.concurrency) {
      stats.running++;
    } else {
      if (stats.waiting >= opts.queue) throw shed();
      stats.waiting++;
      // The finishing call hands its slot over: `running` stays the same.
      await new Promise<void>((resolve) => waiters.push(resolve));
      stats.waiting--;
    }
    const start = performance.now();
    try {
      return await work();
    } finally {
      avgMs = avgMs * 0.9 + (performance.now() - start) * 0.1;
      const next = waiters.shift();
      if (next) next();
      else stats.running--;
    }
  };

  return {
    stats,
    admitOrShed() {
      if (stats.running >= opts.concurrency && stats.waiting >= opts.queue) throw shed();
    },
    hash: (password) => admit(() => workers.hash(preHash(opts.pepper, password), opts.cost)),
    verify: (password, hash) => admit(() => workers.compare(preHash(opts.pepper, password), hash ?? dummy)),
    close: () => workers.close(),
  };
}
