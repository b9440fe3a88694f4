// Upload sessions in flight, kept in IndexedDB so an upload cut off by a closed page or a crash
// can be resumed after the next sign-in: the session id, where it goes, and the file's identity
// (name, size, last-modified time) to match the file the user picks again. No tokens, no
// content. One record per session, removed when the session completes or is cancelled.

export interface Pending {
  sessionId: string;
  userId: string;
  parentId: string;
  name: string;
  size: number;
  lastModified: number;
  createdAt: number;
}

const DB = "filemesh-console";
const STORE = "uploads";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE))
        req.result.createObjectStore(STORE, { keyPath: "sessionId" });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** Failures to reach IndexedDB (private mode, quota) only cost the resume after a reload. */
export const remember = (p: Pending) => run("readwrite", (s) => s.put(p)).catch(() => undefined);
export const forgetPending = (sessionId: string) =>
  run("readwrite", (s) => s.delete(sessionId)).catch(() => undefined);
export const pendingOf = async (userId: string): Promise<Pending[]> =>
  ((await run("readonly", (s) => s.getAll()).catch(() => [])) as Pending[]).filter(
    (p) => p.userId === userId,
  );
