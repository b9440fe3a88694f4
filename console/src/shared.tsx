// "Shared with me": what other people granted the caller (GET /v1/permissions/accessible, the
// caller's own files left out), each file downloadable and each folder opened in the browser.
import { useEffect, useState } from "preact/hooks";
import * as api from "./api.ts";
import { bytes, when } from "./format.ts";
import { Icon } from "./icons.tsx";

interface Shared {
  file: api.FileItem;
  role: string;
  owner: string;
}

export function SharedWithMe(props: {
  me: api.Me;
  onOpen: (f: api.FileItem) => void;
  onError: (e: unknown) => void;
}) {
  const [items, setItems] = useState<Shared[]>([]);
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    (async () => {
      const found: { id: string; role: string }[] = [];
      let token = "";
      do {
        const page = await api.accessible(token);
        for (const r of page.resources ?? [])
          if (r.resource.startsWith("file:") && r.role !== "owner")
            found.push({ id: r.resource.slice(5), role: r.role ?? "" });
        token = page.nextPageToken ?? "";
      } while (token && found.length < 1000);
      const owners = new Map<string, Promise<string>>();
      const rows = await Promise.all(
        found.map(async ({ id, role }) => {
          const file = await api.getFile(id).catch(() => undefined);
          if (!file || file.ownerId === props.me.id || file.trashTime) return undefined;
          const oid = file.ownerId ?? "";
          if (!owners.has(oid))
            owners.set(
              oid,
              api.getUser(oid).then(
                (u) => u.displayName || oid,
                () => oid,
              ),
            );
          return { file, role, owner: await owners.get(oid)! };
        }),
      );
      setItems(rows.filter((r): r is Shared => !!r).sort((a, b) => a.file.name.localeCompare(b.file.name)));
    })()
      .catch(props.onError)
      .finally(() => setLoading(false));
  }, []);

  const download = (f: api.FileItem) => api.download(f.id).then((b) => api.save(b, f.name), props.onError);

  return (
    <section aria-label="Shared with me" class="page">
      <h2>Shared with me</h2>
      <table class="files">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Shared by</th>
            <th scope="col">Role</th>
            <th scope="col" class="num wide">
              Size
            </th>
            <th scope="col" class="wide">
              Modified
            </th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {items.map(({ file: f, role, owner }) => (
            <tr key={f.id} data-name={f.name}>
              <td class="name">
                {f.kind === "FOLDER" ? (
                  <button
                    type="button"
                    class="link folder"
                    aria-label={`Open folder ${f.name}`}
                    onClick={() => props.onOpen(f)}
                  >
                    <Icon name="folder" /> <span class="fname">{f.name}</span>
                  </button>
                ) : (
                  <span class="with-icon">
                    <Icon name="file" /> {f.name}
                  </span>
                )}
              </td>
              <td>{owner}</td>
              <td>
                <span class="badge">{role}</span>
              </td>
              <td class="num wide">{f.kind === "FOLDER" ? "" : bytes(f.sizeBytes)}</td>
              <td class="wide">{when(f.updateTime)}</td>
              <td class="actions">
                {f.kind !== "FOLDER" && (
                  <button type="button" aria-label={`Download ${f.name}`} onClick={() => download(f)}>
                    Download
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!loading && items.length === 0 && <p class="empty">Nothing is shared with you yet.</p>}
    </section>
  );
}
