// files.secrets: service-wide secrets every replica shares (created by whichever starts first).
import type { Queryable } from "./files.js";

export async function sharedSecret(q: Queryable, name: string, fresh: Buffer): Promise<Buffer> {
  await q.query("INSERT INTO files.secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING", [
    name,
    fresh,
  ]);
  const { rows } = await q.query<{ value: Buffer }>("SELECT value FROM files.secrets WHERE name = $1", [
    name,
  ]);
  return rows[0]!.value;
}
