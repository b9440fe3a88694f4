// The folder browser: breadcrumbs, a sortable, paged listing (nextPageToken → "Load more"),
// new folder, upload by picker or drag-and-drop with per-file progress, download, rename and
// move to trash. Each action's API error goes to the shell's banner.
import { useEffect, useState } from "preact/hooks";
import * as api from "./api.ts";
import { bytes, when } from "./format.ts";
import { type UploadItem, Uploads } from "./uploads.tsx";

interface Crumb {
  id: string;
  name: string;
}

export function Browser(props: { home: string; onError: (e: unknown) => void; onChanged: () => void }) {
  const [path, setPath] = useState<Crumb[]>([{ id: props.home, name: "Home" }]);
  const [order, setOrder] = useState("FILE_ORDER_NAME");
  const [files, setFiles] = useState<api.FileItem[]>([]);
  const [next, setNext] = useState("");
  const [loading, setLoading] = useState(false);
  const [renaming, setRenaming] = useState("");
  const [newName, setNewName] = useState("");
  const [folderName, setFolderName] = useState("");
  const [uploads, setUploads] = useState<UploadItem[]>([]);
  const [dragging, setDragging] = useState(false);
  const folder = path[path.length - 1]!;

  const load = async (token = "") => {
    setLoading(true);
    try {
      const page = await api.listFiles(folder.id, token, order);
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
  }, [folder.id, order]);

  // Files still PROCESSING are polled until they settle (READY or REJECTED).
  useEffect(() => {
    if (!files.some((f) => f.state === "PROCESSING" || f.state === "UPLOADING")) return;
    const timer = setTimeout(() => load(), 2000);
    return () => clearTimeout(timer);
  }, [files]);

  const act = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      props.onChanged();
      await load();
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
      const blob = await api.download(f.id);
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = f.name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      props.onError(e);
    }
  };

  const upload = (list: FileList | File[]) => {
    const target = folder.id;
    for (const file of Array.from(list)) {
      const key = `${Date.now()}-${Math.random()}`;
      const update = (patch: Partial<UploadItem>) =>
        setUploads((all) => all.map((u) => (u.key === key ? { ...u, ...patch } : u)));
      const job = api.upload(target, file, (sent) => update({ sent }));
      setUploads((all) => [
        ...all,
        { key, name: file.name, sent: 0, total: file.size, status: "uploading", abort: job.abort },
      ]);
      job.done.then(
        () => {
          update({ status: "done", sent: file.size });
          props.onChanged();
          if (target === folder.id) load();
        },
        (e: unknown) => update({ status: "failed", error: e instanceof Error ? e.message : String(e) }),
      );
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    if (e.dataTransfer?.files.length) upload(e.dataTransfer.files);
  };

  return (
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
            onChange={(e) => {
              const input = e.currentTarget;
              if (input.files?.length) upload(input.files);
              input.value = "";
            }}
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

      <Uploads items={uploads} clear={() => setUploads((u) => u.filter((x) => x.status === "uploading"))} />

      <p class="drop-hint">Drop files anywhere here to upload them to “{folder.name}”.</p>

      <table class="files">
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
        <tbody>
          {files.map((f) => {
            const isFolder = f.kind === "FOLDER";
            return (
              <tr key={f.id} data-name={f.name}>
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
                  ) : isFolder ? (
                    <button
                      type="button"
                      class="link folder"
                      aria-label={`Open folder ${f.name}`}
                      onClick={() => setPath([...path, { id: f.id, name: f.name }])}
                    >
                      📁 {f.name}
                    </button>
                  ) : (
                    <span class="file">{f.name}</span>
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
                  {!isFolder && (
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
                    aria-label={`Move ${f.name} to trash`}
                    onClick={() => act(() => api.trash(f.id))}
                  >
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
  );
}
