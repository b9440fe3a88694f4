// Listeners for "the index advanced", and a bounded wait for a condition on it.

export interface Waiters {
  notify(): void;
  subscribe(fn: () => void): () => void;
  /** Resolves true as soon as `cond()` holds after an advance, false at `deadline` (epoch ms) if not. */
  until(cond: () => boolean, deadline: number): Promise<boolean>;
}

export function createWaiters(): Waiters {
  const subs = new Set<() => void>();
  const subscribe = (fn: () => void) => {
    subs.add(fn);
    return () => {
      subs.delete(fn);
    };
  };
  return {
    notify() {
      for (const fn of [...subs]) fn();
    },
    subscribe,
    until(cond, deadline) {
      if (cond()) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (ok: boolean) => {
          clearTimeout(timer);
          unsubscribe();
          resolve(ok);
        };
        const unsubscribe = subscribe(() => {
          if (cond()) done(true);
        });
        const timer = setTimeout(() => done(cond()), Math.max(0, deadline - Date.now()));
      });
    },
  };
}

/** A promise that resolves after `ms` without keeping the process alive. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
