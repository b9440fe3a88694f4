export interface AdminStores {
  /** The auth schema's database (default postgres://postgres@127.0.0.1:5432/filemesh). */
  databaseUrl?: string | undefined;
  /** The session store, for revoke (default redis://127.0.0.1:6379). */
  redisUrl?: string | undefined;
  /** Wait before the revoke's second pass over the sessions (default 2000 ms). */
  settleMs?: number;
}
export class AdminError extends Error {
  readonly exitCode: number;
}
export function setAdmin(
  opts: AdminStores,
  who: string,
  admin: boolean,
): Promise<{ id: string; email: string; createTime: Date; disabled: boolean; endedSessions: number }>;
export function listAdmins(opts: AdminStores): Promise<{ id: string; email: string; createTime: Date }[]>;
export function main(
  argv: string[],
  env?: Record<string, string | undefined>,
  out?: (line: string) => void,
  err?: (line: string) => void,
): Promise<number>;
