// The trash (GET /v1/trash, paged) with restore and permanent delete (asked to confirm first:
// the content and every version are gone for good and the quota is given back).
import { useEffect, useState } from "preact/hooks";
import * as api from "./api.ts";
import { bytes, when } from "./format.ts";
import { Icon } from "./icons.tsx";

export function Trash(props: { onError: (e: unknown) => void; onChanged: () => void }) {
  const [files, setFiles] = useState<api.FileItem[]>([]);
  const [next, setNext] = useState("");
  const [loading, setLoading] = useState(true);

  const load = async (token = "") => {
    setLoading(true);
    try {
      const page = await api.listTrash(token);
      setFiles((old) => (token ? [...old, ...(page.files ?? [])] : (page.files ?? [])));
      setNext(page.nextPageToken ?? "");
    } catch (e) {
      props.onError(e);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    load();
  }, []);

  const restore = async (f: api.FileItem) => {
    try {
      await api.restore(f.id);
      props.onChanged();
      await load();
    } catch (e) {
      props.onError(e);
    }
  };

  const [confirming, setConfirming] = useState("");
  const destroy = async (f: api.FileItem) => {
    try {
      await api.deleteForever(f.id);
      setConfirming("");
      props.onChanged();
      await load();
    } catch (e) {
      props.onError(e);
    }
  };

  return (
    <section aria-label="Trash" class="page">
      <h2>Trash</h2>
      <table class="files">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col" class="num">
              Size
            </th>
            <th scope="col" class="wide">
              Trashed
            </th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {files.map((f) => (
            <tr key={f.id} data-name={f.name}>
              <td class="name">
                <span class="with-icon">
                  <Icon name={f.kind === "FOLDER" ? "folder" : "file"} /> {f.name}
                </span>
              </td>
              <td class="num">{f.kind === "FOLDER" ? "" : bytes(f.sizeBytes)}</td>
              <td class="wide">{when(f.trashTime)}</td>
              <td class="actions">
                <button type="button" aria-label={`Restore ${f.name}`} onClick={() => restore(f)}>
                  Restore
                </button>
                {confirming === f.id ? (
                  <>
                    <button
                      type="button"
                      class="danger"
                      aria-label={`Confirm deleting ${f.name} forever`}
                      onClick={() => destroy(f)}
                    >
                      Delete forever
                    </button>
                    <button type="button" onClick={() => setConfirming("")}>
                      Keep
                    </button>
                  </>
                ) : (
                  <button
                    type="button"
                    aria-label={`Delete ${f.name} forever`}
                    onClick={() => setConfirming(f.id)}
                  >
                    Delete…
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!loading && files.length === 0 && <p class="empty">The trash is empty.</p>}
      {next && (
        <button type="button" class="more" disabled={loading} onClick={() => load(next)}>
          Load more
        </button>
      )}
    </section>
  );
}
