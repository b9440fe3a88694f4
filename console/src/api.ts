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
  ownerId?: string;
  currentVersionId?: string;
  hasThumbnail?: boolean;
}

export interface FileVersion {
  id: string;
  fileId?: string;
  sizeBytes?: string;
  contentType?: string;
  createTime?: string;
  creator?: string;
  current?: boolean;
}

export interface Session {
  id: string;
  createTime?: string;
  lastUseTime?: string;
  expireTime?: string;
  userAgent?: string;
  clientAddress?: string;
  current?: boolean;
}

export interface Grant {
  id: string;
  resource?: string;
  subject?: string;
  role?: string;
  expireTime?: string;
  createTime?: string;
}

export interface ShareLink {
  id: string;
  token?: string;
  role?: string;
  expireTime?: string;
  maxDownloads?: number;
  downloads?: number;
  hasPassword?: boolean;
  fileId?: string;
  createTime?: string;
}

export interface Group {
  id: string;
  name: string;
  description?: string;
  myRole?: string;
}

export interface GroupMember {
  member: string;
  role?: string;
  displayName?: string;
}

export interface UploadSession {
  id: string;
  parentId?: string;
  name?: string;
  sizeBytes?: string;
  state?: string;
  partSizeBytes?: string;
  partCount?: number;
  parts?: { partNumber: number; sizeBytes?: string }[];
  fileId?: string;
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

/**
 * A JSON call; an expired access token is refreshed once, a refused refresh signs out. A read
 * answered 503 (a busy database) or 429 (a rate class) with a short Retry-After is retried after
 * that wait, up to four times: reads are idempotent, and the API says when to come back.
 */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res = await send(method, path, body);
  for (let n = 0; method === "GET" && (res.status === 503 || res.status === 429) && n < 4; n++) {
    const wait = Number(res.headers.get("retry-after"));
    if (!(wait > 0 && wait <= 5)) break;
    await new Promise((r) => setTimeout(r, wait * 1000));
    res = await send(method, path, body);
  }
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
    await call("POST", "/v1/auth:logout", { allSessions: false });
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

export const move = (f: FileItem, parentId: string) =>
  call<FileItem>("PATCH", `/v1/files/${encodeURIComponent(f.id)}${q({ updateMask: "parentId" })}`, {
    parentId,
    etag: f.etag,
  });

export const copy = (f: FileItem, parentId: string, name = "") =>
  call<FileItem>("POST", `/v1/files/${encodeURIComponent(f.id)}:copy`, {
    fileId: f.id,
    parentId,
    name,
    requestId: crypto.randomUUID(),
  });

export const trash = (id: string) => call("DELETE", `/v1/files/${encodeURIComponent(id)}`);
export const deleteForever = (id: string) =>
  call("DELETE", `/v1/files/${encodeURIComponent(id)}${q({ permanent: "true" })}`);
export const restore = (id: string) =>
  call<FileItem>("POST", `/v1/files/${encodeURIComponent(id)}:restore`, { fileId: id });

/**
 * The content as a Blob (the bearer token cannot ride on a plain link); `length` reads only the
 * first bytes (text previews), `versionId` an older version.
 */
export async function download(
  id: string,
  opts: { versionId?: string; length?: number } = {},
): Promise<Blob> {
  return bytesOf(
    `/v1/files/${encodeURIComponent(id)}/content${q({ versionId: opts.versionId, length: opts.length })}`,
  );
}

/** The processor's thumbnail (WebP) of the current version, as a Blob. */
export const thumbnail = (id: string): Promise<Blob> =>
  bytesOf(`/v1/files/${encodeURIComponent(id)}/thumbnail`);

/** A raw GET with the bearer token (refreshed once on 401). */
async function bytesOf(url: string): Promise<Blob> {
  await fresh();
  let res = await fetch(url, { headers: { authorization: `Bearer ${accessToken}` } });
  if (res.status === 401 && (await refresh())) {
    res = await fetch(url, { headers: { authorization: `Bearer ${accessToken}` } });
  }
  if (!res.ok) throw await toError(res);
  return res.blob();
}

/** Saves a Blob under a name through a temporary object URL. */
export function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Makes an older version current again (server-side copy; one new version per request id). */
export const restoreVersion = (id: string, versionId: string, requestId: string) =>
  call<FileItem>(
    "POST",
    `/v1/files/${encodeURIComponent(id)}/versions/${encodeURIComponent(versionId)}:restore`,
    { requestId },
  );

export const listVersions = (id: string) =>
  call<{ versions?: FileVersion[]; nextPageToken?: string }>(
    "GET",
    `/v1/files/${encodeURIComponent(id)}/versions${q({ pageSize: 100 })}`,
  );

// Sessions (devices signed in).
export const listSessions = () =>
  call<{ sessions?: Session[]; nextPageToken?: string }>("GET", `/v1/auth/sessions${q({ pageSize: 100 })}`);
export const revokeSession = (id: string) => call("DELETE", `/v1/auth/sessions/${encodeURIComponent(id)}`);

// People and groups.
export const lookupUser = (email: string) => call<Me>("GET", `/v1/users:lookup${q({ email })}`);
export const getUser = (id: string) => call<Me>("GET", `/v1/users/${encodeURIComponent(id)}`);
export const listGroups = (pageToken = "") =>
  call<{ groups?: Group[]; nextPageToken?: string }>("GET", `/v1/groups${q({ pageSize: 100, pageToken })}`);
export const createGroup = (name: string, description: string) =>
  call<Group>("POST", `/v1/groups${q({ requestId: crypto.randomUUID() })}`, { name, description });
export const deleteGroup = (id: string) => call("DELETE", `/v1/groups/${encodeURIComponent(id)}`);
export const listMembers = (id: string) =>
  call<{ members?: GroupMember[]; nextPageToken?: string }>(
    "GET",
    `/v1/groups/${encodeURIComponent(id)}/members${q({ pageSize: 100 })}`,
  );
export const addMember = (groupId: string, member: string, role: string) =>
  call<GroupMember>("POST", `/v1/groups/${encodeURIComponent(groupId)}/members`, {
    groupId,
    member,
    role,
    requestId: crypto.randomUUID(),
  });
export const removeMember = (groupId: string, member: string) =>
  call("DELETE", `/v1/groups/${encodeURIComponent(groupId)}/members/${encodeURIComponent(member)}`);

// Grants and share links.
export const listGrants = (fileId: string) =>
  call<{ grants?: Grant[]; nextPageToken?: string }>(
    "GET",
    `/v1/files/${encodeURIComponent(fileId)}/grants${q({ pageSize: 100 })}`,
  );
export const createGrant = (fileId: string, subject: string, role: string, expireTime?: string) =>
  call<Grant>(
    "POST",
    `/v1/files/${encodeURIComponent(fileId)}/grants${q({ requestId: crypto.randomUUID() })}`,
    {
      subject,
      role,
      ...(expireTime ? { expireTime } : {}),
    },
  );
export const deleteGrant = (fileId: string, grantId: string) =>
  call("DELETE", `/v1/files/${encodeURIComponent(fileId)}/grants/${encodeURIComponent(grantId)}`);
export const listLinks = (fileId: string) =>
  call<{ links?: ShareLink[]; nextPageToken?: string }>(
    "GET",
    `/v1/files/${encodeURIComponent(fileId)}/links${q({ pageSize: 100 })}`,
  );
export const createLink = (
  fileId: string,
  opts: { role: string; password?: string; expireTime?: string; maxDownloads?: number },
) =>
  call<ShareLink>(
    "POST",
    `/v1/files/${encodeURIComponent(fileId)}/links${q({ requestId: crypto.randomUUID() })}`,
    {
      role: opts.role,
      ...(opts.password ? { password: opts.password } : {}),
      ...(opts.expireTime ? { expireTime: opts.expireTime } : {}),
      ...(opts.maxDownloads ? { maxDownloads: opts.maxDownloads } : {}),
    },
  );
export const deleteLink = (fileId: string, linkId: string) =>
  call("DELETE", `/v1/files/${encodeURIComponent(fileId)}/links/${encodeURIComponent(linkId)}`);

/** Resources the caller can read through grants ("resource": "file:<id>", strongest role). */
export const accessible = (pageToken = "") =>
  call<{ resources?: { resource: string; role?: string }[]; nextPageToken?: string }>(
    "GET",
    `/v1/permissions/accessible${q({ permission: "read", pageSize: 100, pageToken })}`,
  );

// Public share links: no account, the password in the X-Link-Password header (never the query).
async function linkFetch(token: string, suffix: string, password: string): Promise<Response> {
  const headers: Record<string, string> = {};
  if (password) headers["x-link-password"] = password;
  try {
    const res = await fetch(`/v1/links/${encodeURIComponent(token)}${suffix}`, { headers });
    if (!res.ok) throw await toError(res);
    return res;
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(`network error: ${(e as Error).message}`, 0);
  }
}
export const openLink = async (token: string, password: string) =>
  (await (await linkFetch(token, "", password)).json()) as { link?: ShareLink; file?: FileItem };
export const linkContent = async (token: string, password: string) =>
  (await linkFetch(token, "/content", password)).blob();

// Uploads.
export const uploadRaw = (parentId: string, name: string) => `/v1/files:upload${q({ parentId, name })}`;
export const createUpload = (parentId: string, name: string, size: number, partSizeBytes: number) =>
  call<UploadSession>("POST", "/v1/uploads", {
    parentId,
    name,
    sizeBytes: String(size),
    method: "UPLOAD_METHOD_PARTS",
    partSizeBytes: String(partSizeBytes),
    requestId: crypto.randomUUID(),
  });
export const getUpload = (id: string) => call<UploadSession>("GET", `/v1/uploads/${encodeURIComponent(id)}`);
export const cancelUpload = (id: string) => call("DELETE", `/v1/uploads/${encodeURIComponent(id)}`);
export const completeUpload = (id: string) =>
  call<FileItem>("POST", `/v1/uploads/${encodeURIComponent(id)}:complete`, { uploadId: id });
export const partUrl = (id: string, n: number) => `/v1/uploads/${encodeURIComponent(id)}/parts/${n}`;

/**
 * One request body sent by XMLHttpRequest, whose upload events report progress (fetch has
 * none). Resolves with the parsed JSON answer; rejects with the API's error (status 0 and
 * reason NETWORK for a network failure, CANCELLED for an abort).
 */
export async function xhrSend(
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
    xhr.onabort = () => reject(new ApiError("upload paused or cancelled", 0, "CANCELLED"));
    xhr.onload = async () => {
      if (xhr.status === 401) {
        // An access token that died mid-upload: refresh, and let the caller retry the part.
        if (await refresh()) return reject(new ApiError("access token refreshed", 401, "RETRY"));
        forget();
        onSignedOut();
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText || "{}"));
      else reject(await toError(new Response(xhr.responseText || null, { status: xhr.status })));
    };
    xhr.send(body);
  });
}
