// Picks a destination folder for move and copy: starts in the folder on screen, browses down
// from there or back up its breadcrumbs.
import { useEffect, useState } from "preact/hooks";
import * as api from "./api.ts";
import { Dialog } from "./dialog.tsx";
import { Icon } from "./icons.tsx";

export function FolderPicker(props: {
  title: string;
  home: string;
  /** Where to start: the browser's breadcrumbs. */
  start: { id: string; name: string }[];
  /** A folder that cannot be chosen (the one being moved: not into itself). */
  exclude?: string;
  onPick: (folderId: string, name: string) => void;
  onClose: () => void;
  onError: (e: unknown) => void;
}) {
  const [path, setPath] = useState(
    // A folder shared with the caller is not below their home: start at home then.
    props.start[0]?.id === props.home ? props.start : [{ id: props.home, name: "Home" }],
  );
  const [folders, setFolders] = useState<api.FileItem[]>([]);
  const here = path[path.length - 1]!;
  useEffect(() => {
    (async () => {
      const out: api.FileItem[] = [];
      let token = "";
      do {
        const page = await api.listFiles(here.id, token, "FILE_ORDER_NAME", 100);
        out.push(...(page.files ?? []).filter((f) => f.kind === "FOLDER" && f.id !== props.exclude));
        token = page.nextPageToken ?? "";
      } while (token && out.length < 500);
      setFolders(out);
    })().catch(props.onError);
  }, [here.id]);
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <nav class="crumbs" aria-label="Destination path">
        {path.map((c, i) => (
          <span key={c.id}>
            {i > 0 && (
              <span class="sep" aria-hidden="true">
                /
              </span>
            )}
            <button type="button" class="link" onClick={() => setPath(path.slice(0, i + 1))}>
              {c.name}
            </button>
          </span>
        ))}
      </nav>
      <ul class="picker-list">
        {folders.map((f) => (
          <li key={f.id}>
            <button
              type="button"
              class="link with-icon"
              aria-label={`Open ${f.name}`}
              onClick={() => setPath([...path, { id: f.id, name: f.name }])}
            >
              <Icon name="folder" /> {f.name}
            </button>
          </li>
        ))}
        {folders.length === 0 && <li class="note">No folders here.</li>}
      </ul>
      <div class="dialog-actions">
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button type="button" class="primary" onClick={() => props.onPick(here.id, here.name)}>
          Choose “{here.name}”
        </button>
      </div>
    </Dialog>
  );
}
