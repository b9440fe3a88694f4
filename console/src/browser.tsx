// The folder browser: breadcrumbs, a sortable, paged listing (nextPageToken → "Load more") with
// thumbnails and states (PROCESSING polled until READY or REJECTED with its reason), new
// folder, upload of files and folders by picker or drag-and-drop (queued in the upload
// manager), and per item: details (preview, versions), download, rename, move, copy, share and
// trash. The listing is keyboard-navigable: ↑/↓ move between rows, Enter opens, Delete trashes.
// Each action's API error goes to the shell's banner.
import { useEffect, useRef, useState } from "preact/hooks";
import * as api from "./api.ts";
import { Details, isImage } from "./details.tsx";
import { FolderPicker } from "./folder-picker.tsx";
import { bytes, when } from "./format.ts";
import { Icon } from "./icons.tsx";
import { ShareDialog } from "./share.tsx";
import { droppedFiles, type UploadManager } from "./upload-manager.ts";

export interface Crumb {
  id: string;
  name: string;
}

export function Browser(props: {
  start: Crumb[];
  home: string;
  manager: UploadManager;
  uploaded: { file: api.FileItem; target: string } | null;
  onError: (e: unknown) => void;
  onChanged: () => void;
}) {
  const [path, setPath] = useState<Crumb[]>(props.start);
  const [order, setOrder] = useState("FILE_ORDER_NAME");
  const [files, setFiles] = useState<api.FileItem[]>([]);
  const [next, setNext] = useState("");
  const [loading, setLoading] = useState(false);
  const [renaming, setRenaming] = useState("");
  const [newName, setNewName] = useState("");
  const [folderName, setFolderName] = useState("");
  const [dragging, setDragging] = useState(false);
  const [selected, setSelected] = useState<api.FileItem | null>(null);
  const [dialog, setDialog] = useState<{ kind: "move" | "copy" | "share"; file: api.FileItem } | null>(null);
  const tbody = useRef<HTMLTableSectionElement>(null);
  const folder = path[path.length - 1]!;

  // Only the newest listing is shown: an older one still in flight (a poll, the folder left a
  // moment ago) must not overwrite it when it answers late.
  // A poll timer set in a folder left since calls a load bound to that folder: dropped too.
  const latest = useRef(0);
  const shown = useRef(folder.id);
  shown.current = folder.id;
  const load = async (token = "") => {
    const mine = ++latest.current;
    const asked = folder.id;
    if (!asked) return; // no home folder (yet): nothing to list
    setLoading(true);
    try {
      const page = await api.listFiles(asked, token, order);
      if (mine !== latest.current || asked !== shown.current) return;
      const got = page.files ?? [];
      setFiles((old) => (token ? [...old, ...got] : got));
      setNext(page.nextPageToken ?? "");
      setSelected((s) => (s ? (got.find((f) => f.id === s.id) ?? s) : s));
    } catch (e) {
      if (mine === latest.current) props.onError(e);
    } finally {
      if (mine === latest.current) setLoading(false);
    }
  };

  useEffect(() => {
    setSelected(null);
    load();
  }, [folder.id, order]);

  // An upload into this folder (or into a tree dropped on it) finished: show it.
  useEffect(() => {
    const u = props.uploaded;
    if (u && (u.file.parentId === folder.id || u.target === folder.id)) load();
  }, [props.uploaded]);

  // Files still PROCESSING are polled until they settle (READY or REJECTED).
  useEffect(() => {
    if (!files.some((f) => f.state === "PROCESSING" || f.state === "UPLOADING")) return;
    const timer = setTimeout(() => load(), 1500);
    return () => clearTimeout(timer);
  }, [files]);

  // The load of the folder on screen now: an action that finishes after the user opened another
  // folder (a copy into it, say) refreshes that one, not the folder it started in.
  const loadShown = useRef(load);
  loadShown.current = load;
  const act = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      props.onChanged();
      await loadShown.current();
    } catch (e) {
      props.onError(e);
    }
  };

  const createFolder = (e: Event) => {
    e.preventDefault();
    const name = folderName.trim();
    if (!name) return;
    act(async () => {
      await api.createFolder(folder.id, name);
      setFolderName("");
    });
  };

  const saveRename = (f: api.FileItem) => (e: Event) => {
    e.preventDefault();
    act(async () => {
      await api.rename(f, newName.trim());
      setRenaming("");
    });
  };

  const download = async (f: api.FileItem) => {
    try {
      api.save(await api.download(f.id), f.name);
    } catch (e) {
      props.onError(e);
    }
  };

  const trash = (f: api.FileItem) =>
    act(async () => {
      await api.trash(f.id);
      if (selected?.id === f.id) setSelected(null);
    });

  const open = (f: api.FileItem) => {
    if (f.kind === "FOLDER") setPath([...path, { id: f.id, name: f.name }]);
    else setSelected(f);
  };

  const onDrop = async (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    if (!e.dataTransfer) return;
    try {
      const entries = await droppedFiles(e.dataTransfer);
      if (entries.length) props.manager.add(entries, folder.id);
    } catch (err) {
      props.onError(err);
    }
  };

  /** ↑/↓ between rows (focus on the row's name), Home/End, Delete to trash. */
  const onKey = (e: KeyboardEvent) => {
    const rows = Array.from(tbody.current?.querySelectorAll<HTMLElement>("tr") ?? []);
    const at = rows.findIndex((r) => r.contains(document.activeElement));
    if (at < 0 || (e.target as HTMLElement).tagName === "INPUT") return;
    let to = -1;
    if (e.key === "ArrowDown") to = Math.min(rows.length - 1, at + 1);
    else if (e.key === "ArrowUp") to = Math.max(0, at - 1);
    else if (e.key === "Home") to = 0;
    else if (e.key === "End") to = rows.length - 1;
    else if (e.key === "Delete") {
      const f = files[at];
      if (f) trash(f);
      e.preventDefault();
      return;
    }
    if (to < 0) return;
    e.preventDefault();
    rows[to]?.querySelector<HTMLElement>(".name button")?.focus();
  };

  const picked = (input: HTMLInputElement) => {
    const list = Array.from(input.files ?? []);
    if (list.length)
      props.manager.add(
        list.map((file) => ({ file, path: file.webkitRelativePath || file.name })),
        folder.id,
      );
    input.value = "";
  };

  return (
    <div class={selected ? "with-details" : ""}>
      <section
        class={dragging ? "browser dragging" : "browser"}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
        aria-label="Files"
      >
        <nav class="crumbs" aria-label="Breadcrumbs">
          {path.map((c, i) =>
            i === path.length - 1 ? (
              <span key={c.id} aria-current="page">
                {c.name}
              </span>
            ) : (
              <span key={c.id}>
                <button type="button" class="link" onClick={() => setPath(path.slice(0, i + 1))}>
                  {c.name}
                </button>
                <span class="sep" aria-hidden="true">
                  /
                </span>
              </span>
            ),
          )}
        </nav>

        <div class="toolbar">
          <form onSubmit={createFolder} class="inline">
            <input
              aria-label="New folder name"
              placeholder="New folder"
              value={folderName}
              onInput={(e) => setFolderName(e.currentTarget.value)}
            />
            <button type="submit">Create folder</button>
          </form>
          <label class="button primary">
            Upload files
            <input
              type="file"
              multiple
              class="visually-hidden"
              aria-label="Upload files"
              name="files"
              onChange={(e) => picked(e.currentTarget)}
            />
          </label>
          <label class="button">
            Upload a folder
            <input
              type="file"
              class="visually-hidden"
              aria-label="Upload a folder"
              name="folder"
              {...{ webkitdirectory: true }}
              onChange={(e) => picked(e.currentTarget)}
            />
          </label>
          <label class="sort">
            Sort
            <select value={order} onChange={(e) => setOrder(e.currentTarget.value)}>
              <option value="FILE_ORDER_NAME">Name</option>
              <option value="FILE_ORDER_UPDATE_TIME">Newest first</option>
            </select>
          </label>
        </div>

        <p class="drop-hint">Drop files or folders anywhere here to upload them to “{folder.name}”.</p>

        <table class="files" onKeyDown={onKey}>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col" class="num">
                Size
              </th>
              <th scope="col" class="wide">
                Type
              </th>
              <th scope="col">State</th>
              <th scope="col" class="wide">
                Modified
              </th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody ref={tbody}>
            {files.map((f) => {
              const isFolder = f.kind === "FOLDER";
              return (
                <tr key={f.id} data-name={f.name} class={selected?.id === f.id ? "selected" : ""}>
                  <td class="name">
                    {renaming === f.id ? (
                      <form onSubmit={saveRename(f)} class="inline">
                        <input
                          aria-label={`New name for ${f.name}`}
                          value={newName}
                          onInput={(e) => setNewName(e.currentTarget.value)}
                          onKeyDown={(e) => e.key === "Escape" && setRenaming("")}
                          ref={(el) => el?.focus()}
                        />
                        <button type="submit">Save</button>
                        <button type="button" onClick={() => setRenaming("")}>
                          Cancel
                        </button>
                      </form>
                    ) : (
                      <button
                        type="button"
                        class={isFolder ? "link folder" : "link file"}
                        aria-label={isFolder ? `Open folder ${f.name}` : `Show details of ${f.name}`}
                        onClick={() => open(f)}
                      >
                        {isFolder ? <Icon name="folder" /> : <Thumb file={f} />}
                        <span class="fname">{f.name}</span>
                      </button>
                    )}
                  </td>
                  <td class="num">{isFolder ? "" : bytes(f.sizeBytes)}</td>
                  <td class="wide">{isFolder ? "folder" : f.contentType || ""}</td>
                  <td>
                    {!isFolder && (
                      <span class={`state state-${(f.state ?? "").toLowerCase()}`} title={f.stateReason}>
                        {f.state}
                        {f.state === "REJECTED" && f.stateReason ? `: ${f.stateReason}` : ""}
                      </span>
                    )}
                  </td>
                  <td class="wide">{when(f.updateTime)}</td>
                  <td class="actions">
                    {!isFolder && f.state === "READY" && (
                      <button type="button" onClick={() => download(f)} aria-label={`Download ${f.name}`}>
                        Download
                      </button>
                    )}
                    <button
                      type="button"
                      aria-label={`Rename ${f.name}`}
                      onClick={() => {
                        setRenaming(f.id);
                        setNewName(f.name);
                      }}
                    >
                      Rename
                    </button>
                    <button
                      type="button"
                      aria-label={`Move ${f.name}`}
                      onClick={() => setDialog({ kind: "move", file: f })}
                    >
                      Move
                    </button>
                    <button
                      type="button"
                      aria-label={`Share ${f.name}`}
                      onClick={() => setDialog({ kind: "share", file: f })}
                    >
                      Share
                    </button>
                    <button type="button" aria-label={`Move ${f.name} to trash`} onClick={() => trash(f)}>
                      Trash
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {!loading && files.length === 0 && <p class="empty">This folder is empty.</p>}
        {next && (
          <button type="button" class="more" disabled={loading} onClick={() => load(next)}>
            Load more
          </button>
        )}
      </section>

      {selected && (
        <Details
          file={selected}
          onClose={() => setSelected(null)}
          onMove={() => setDialog({ kind: "move", file: selected })}
          onCopy={() => setDialog({ kind: "copy", file: selected })}
          onShare={() => setDialog({ kind: "share", file: selected })}
          onDownload={() => download(selected)}
          onChanged={() => {
            props.onChanged();
            load();
          }}
          onError={props.onError}
        />
      )}

      {dialog && dialog.kind !== "share" && (
        <FolderPicker
          title={`${dialog.kind === "move" ? "Move" : "Copy"} “${dialog.file.name}” to…`}
          home={props.home}
          start={path}
          exclude={dialog.file.kind === "FOLDER" ? dialog.file.id : undefined}
          onClose={() => setDialog(null)}
          onError={props.onError}
          onPick={(to) => {
            const d = dialog;
            setDialog(null);
            act(async () => {
              if (d.kind === "move") {
                await api.move(d.file, to);
                if (selected?.id === d.file.id) setSelected(null);
              } else await api.copy(d.file, to, to === folder.id ? `Copy of ${d.file.name}` : "");
            });
          }}
        />
      )}
      {dialog?.kind === "share" && (
        <ShareDialog file={dialog.file} onClose={() => setDialog(null)} onError={props.onError} />
      )}
    </div>
  );
}

/** A small picture of an image the processor made a thumbnail of (hasThumbnail). */
function Thumb(props: { file: api.FileItem }) {
  const f = props.file;
  const [url, setUrl] = useState("");
  const ok = f.hasThumbnail && f.state === "READY";
  useEffect(() => {
    if (!ok) return;
    let u = "";
    let gone = false;
    api.thumbnail(f.id).then(
      (b) => {
        if (gone) return;
        u = URL.createObjectURL(b);
        setUrl(u);
      },
      () => {},
    );
    return () => {
      gone = true;
      if (u) URL.revokeObjectURL(u);
    };
  }, [f.id, f.etag, ok]);
  if (ok && url) return <img class="thumb" src={url} alt="" />;
  return (
    <span class="thumb">
      <Icon name={isImage(f.contentType) ? "image" : "file"} />
    </span>
  );
}
