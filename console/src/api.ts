// Every call of the console goes through the public REST surface (/v1/…) of the same origin.
// Tokens live in memory only (this module's variables): the API returns the refresh token in
// the JSON body and has no endpoint that sets an HttpOnly cookie, so keeping it in a variable
// is the only choice that keeps it out of storage scripts can read later (never localStorage).
// The cost: a reload forgets both tokens and asks to log in again.

export interface FileItem {
  id: string;
  name: string;
  parentId?: string;
  kind?: "FILE" | "FOLDER" | string;
  sizeBytes?: string;
  contentType?: string;
  state?: string;
  stateReason?: string;
  etag?: string;
  updateTime?: string;
  createTime?: string;
  trashTime?: string;
}

export interface Usage {
  usedBytes?: string;
  reservedBytes?: string;
  quotaBytes?: string;
  fileCount?: string;
}

export interface Me {
  id: string;
  email?: string;
  displayName?: string;
  homeFolderId?: string;
}

/** An error answered by the API (google.rpc.Status), or a network failure. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly reason?: string,
  ) {
    super(message);
  }
}

let accessToken = "";
let refreshToken = "";
let expiresAt = 0; // when the access token expires (ms since the epoch)
let lifetimeMs = 0;
let refreshing: Promise<boolean> | undefined;
let onSignedOut: () => void = () => {};

export function setSignedOutHandler(fn: () => void): void {
  onSignedOut = fn;
}

export function signedIn(): boolean {
  return accessToken !== "";
}

function forget(): void {
  accessToken = "";
  refreshToken = "";
  expiresAt = 0;
}

function keep(data: { accessToken?: string; refreshToken?: string; expiresIn?: number }): void {
  accessToken = data.accessToken ?? "";
  refreshToken = data.refreshToken ?? refreshToken;
  lifetimeMs = (Number(data.expiresIn) || 0) * 1000;
  expiresAt = lifetimeMs ? Date.now() + lifetimeMs : 0;
}

/** The API's error body → an ApiError carrying its message and ErrorInfo reason. */
export async function toError(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  let reason: string | undefined;
  try {
    const body = await res.json();
    if (body?.message) message = body.message;
    reason = body?.details?.find((d: { "@type"?: string }) =>
      String(d["@type"]).endsWith("google.rpc.ErrorInfo"),
    )?.reason;
  } catch {}
  return new ApiError(reason ? `${message} (${reason})` : message, res.status, reason);
}

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  await fresh();
  const headers: Record<string, string> = {};
  if (accessToken) headers.authorization = `Bearer ${accessToken}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  try {
    return await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(`network error: ${(e as Error).message}`, 0);
  }
}

/**
 * One refresh at a time: the API rotates refresh tokens and takes the reuse of a spent one as
 * theft (ending the session), so concurrent callers share the refresh in flight.
 */
function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    if (!refreshToken) return false;
    const res = await fetch("/v1/auth:refresh", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refreshToken }),
    }).catch(() => undefined);
    if (!res?.ok) return false;
    keep(await res.json());
    return accessToken !== "";
  })().finally(() => {
    refreshing = undefined;
  });
  return refreshing;
}

/**
 * Refreshes ahead of expiry (a third of the token's lifetime, at most a minute, before it), so
 * no request starts with a dead token: uploads by XMLHttpRequest cannot be replayed on a 401.
 */
async function fresh(): Promise<void> {
  if (!accessToken || !refreshToken || !expiresAt) return;
  if (Date.now() > expiresAt - Math.min(60_000, lifetimeMs / 3)) await refresh();
}

/** A JSON call; an expired access token is refreshed once, a refused refresh signs out. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res = await send(method, path, body);
  if (res.status === 401 && accessToken) {
    if (await refresh()) res = await send(method, path, body);
    else {
      forget();
      onSignedOut();
    }
  }
  if (!res.ok) throw await toError(res);
  const text = await res.text();
  return (text ? JSON.parse(text) : {}) as T;
}

const q = (params: Record<string, string | number | undefined>): string => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") s.set(k, String(v));
  const out = s.toString();
  return out ? `?${out}` : "";
};

export async function register(email: string, password: string, displayName: string): Promise<void> {
  await call("POST", "/v1/auth:register", { email, password, displayName });
}

export async function login(email: string, password: string): Promise<void> {
  forget();
  keep(
    await call<{ accessToken?: string; refreshToken?: string; expiresIn?: number }>(
      "POST",
      "/v1/auth:login",
      {
        email,
        password,
      },
    ),
  );
}

export async function logout(): Promise<void> {
  try {
    await call("POST", "/v1/auth:logout", {});
  } finally {
    forget();
  }
}

export const me = () => call<Me>("GET", "/v1/users/me");
export const usage = () => call<Usage>("GET", "/v1/usage");
export const getFile = (id: string) => call<FileItem>("GET", `/v1/files/${encodeURIComponent(id)}`);

export const listFiles = (parentId: string, pageToken: string, orderBy: string, pageSize = 50) =>
  call<{ files?: FileItem[]; nextPageToken?: string }>(
    "GET",
    `/v1/files${q({ parentId, pageSize, pageToken, orderBy })}`,
  );

export const listTrash = (pageToken: string, pageSize = 50) =>
  call<{ files?: FileItem[]; nextPageToken?: string }>("GET", `/v1/trash${q({ pageSize, pageToken })}`);

export const createFolder = (parentId: string, name: string) =>
  call<FileItem>("POST", "/v1/folders", { parentId, name });

export const rename = (f: FileItem, name: string) =>
  call<FileItem>("PATCH", `/v1/files/${encodeURIComponent(f.id)}${q({ updateMask: "name" })}`, {
    name,
    etag: f.etag,
  });

export const trash = (id: string) => call("DELETE", `/v1/files/${encodeURIComponent(id)}`);
export const restore = (id: string) =>
  call<FileItem>("POST", `/v1/files/${encodeURIComponent(id)}:restore`, { fileId: id });

/** The content as a Blob (the bearer token cannot ride on a plain link). */
export async function download(id: string): Promise<Blob> {
  await fresh();
  let res = await fetch(`/v1/files/${encodeURIComponent(id)}/content`, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  if (res.status === 401 && (await refresh())) {
    res = await fetch(`/v1/files/${encodeURIComponent(id)}/content`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
  }
  if (!res.ok) throw await toError(res);
  return res.blob();
}

/** Files above this go through an upload session in parts; smaller ones as one raw body. */
export const PARTS_THRESHOLD = 8 * 1024 * 1024;
const PART_RETRIES = 3;

export interface UploadJob {
  done: Promise<FileItem>;
  abort: () => void;
}

/**
 * One request body sent by XMLHttpRequest, whose upload events report progress (fetch has
 * none). Resolves with the parsed JSON answer; rejects with the API's error (status 0 for a
 * network failure or an abort).
 */
async function xhrSend(
  method: string,
  url: string,
  body: Blob,
  onProgress: (sent: number) => void,
  register: (xhr: XMLHttpRequest) => void,
): Promise<unknown> {
  await fresh();
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    register(xhr);
    xhr.open(method, url);
    xhr.setRequestHeader("authorization", `Bearer ${accessToken}`);
    xhr.setRequestHeader("content-type", "application/octet-stream");
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onerror = () => reject(new ApiError("network error during upload", 0, "NETWORK"));
    xhr.onabort = () => reject(new ApiError("upload cancelled", 0, "CANCELLED"));
    xhr.onload = async () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText || "{}"));
      else reject(await toError(new Response(xhr.responseText || null, { status: xhr.status })));
    };
    xhr.send(body);
  });
}

/**
 * Uploads a file with per-byte progress: small files as a raw body (POST /v1/files:upload),
 * large ones through an upload session (POST /v1/uploads, PUT …/parts/{n} through the gateway,
 * :complete), each part retried on a network error. Presigned part URLs are not used: they
 * point at the blob store's origin, which the console's Content-Security-Policy does not allow.
 */
export function upload(parentId: string, file: File, onProgress: (sent: number) => void): UploadJob {
  let current: XMLHttpRequest | undefined;
  let cancelled = false;
  let sessionId = "";
  const register = (xhr: XMLHttpRequest) => {
    current = xhr;
  };

  const small = async (): Promise<FileItem> =>
    (await xhrSend(
      "POST",
      `/v1/files:upload${q({ parentId, name: file.name })}`,
      file,
      onProgress,
      register,
    )) as FileItem;

  const large = async (): Promise<FileItem> => {
    const session = await call<{ id: string; partSizeBytes?: string; partCount?: number }>(
      "POST",
      "/v1/uploads",
      {
        parentId,
        name: file.name,
        sizeBytes: String(file.size),
        method: "UPLOAD_METHOD_PARTS",
        partSizeBytes: String(PARTS_THRESHOLD),
        requestId: crypto.randomUUID(),
      },
    );
    sessionId = session.id;
    const partSize = Number(session.partSizeBytes) || PARTS_THRESHOLD;
    const count = session.partCount || Math.ceil(file.size / partSize);
    for (let n = 1; n <= count; n++) {
      const start = (n - 1) * partSize;
      const chunk = file.slice(start, Math.min(file.size, start + partSize));
      for (let attempt = 1; ; attempt++) {
        if (cancelled) throw new ApiError("upload cancelled", 0, "CANCELLED");
        try {
          await xhrSend(
            "PUT",
            `/v1/uploads/${encodeURIComponent(session.id)}/parts/${n}`,
            chunk,
            (sent) => onProgress(start + sent),
            register,
          );
          break;
        } catch (e) {
          const retriable = e instanceof ApiError && (e.reason === "NETWORK" || e.status >= 500);
          if (!retriable || attempt >= PART_RETRIES) throw e;
          await new Promise((r) => setTimeout(r, 500 * attempt));
        }
      }
    }
    return call<FileItem>("POST", `/v1/uploads/${encodeURIComponent(session.id)}:complete`, {
      uploadId: session.id,
    });
  };

  const done = (file.size > PARTS_THRESHOLD ? large() : small()).catch(async (e) => {
    // A session left behind would hold its reserved quota until it expires: cancel it.
    if (sessionId) await call("DELETE", `/v1/uploads/${encodeURIComponent(sessionId)}`).catch(() => {});
    throw e;
  });
  return {
    done,
    abort: () => {
      cancelled = true;
      current?.abort();
    },
  };
}
