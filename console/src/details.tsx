// The details pane of one file or folder: a preview (images drawn from their content once the
// processor has made a thumbnail of them — larger ones from the thumbnail —, text files' first
// 64 KiB), facts, the actions (move, copy, share) and the versions, an older one restorable:
// RestoreFileVersion copies it server-side into a new newest version (older ones stay).
import { useEffect, useState } from "preact/hooks";
import * as api from "./api.ts";
import { bytes, when } from "./format.ts";

const PREVIEW_TEXT_BYTES = 64 * 1024;
const PREVIEW_IMAGE_BYTES = 20 * 1024 * 1024;

export const isText = (t = "") =>
  t.startsWith("text/") || /^application\/(json|xml|javascript|x-ndjson|yaml)/.test(t);
export const isImage = (t = "") => t.startsWith("image/");

export function Details(props: {
  file: api.FileItem;
  onClose: () => void;
  onMove: () => void;
  onCopy: () => void;
  onShare: () => void;
  onDownload: () => void;
  onChanged: () => void;
  onError: (e: unknown) => void;
}) {
  const f = props.file;
  const isFolder = f.kind === "FOLDER";
  const [versions, setVersions] = useState<api.FileVersion[]>([]);
  const [text, setText] = useState<string | null>(null);
  const [image, setImage] = useState("");
  const [busy, setBusy] = useState("");

  const loadVersions = () => {
    if (isFolder) return;
    api.listVersions(f.id).then((r) => setVersions(r.versions ?? []), props.onError);
  };

  useEffect(() => {
    setText(null);
    setImage("");
    setVersions([]);
    loadVersions();
    if (isFolder || f.state !== "READY") return;
    let url = "";
    let gone = false;
    if (isText(f.contentType)) {
      api
        .download(f.id, { length: PREVIEW_TEXT_BYTES })
        .then((b) => b.text())
        .then((t) => !gone && setText(t), props.onError);
    } else if (isImage(f.contentType) && f.hasThumbnail) {
      const small = Number(f.sizeBytes) <= PREVIEW_IMAGE_BYTES;
      (small ? api.download(f.id) : api.thumbnail(f.id)).then((b) => {
        if (gone) return;
        url = URL.createObjectURL(b);
        setImage(url);
      }, props.onError);
    }
    return () => {
      gone = true;
      if (url) URL.revokeObjectURL(url);
    };
  }, [f.id, f.etag, f.state]);

  const restore = async (v: api.FileVersion) => {
    setBusy(v.id);
    try {
      await api.restoreVersion(f.id, v.id, crypto.randomUUID());
      props.onChanged();
      loadVersions();
    } catch (e) {
      props.onError(e);
    } finally {
      setBusy("");
    }
  };

  return (
    <aside class="details" aria-label={`Details of ${f.name}`}>
      <header class="details-head">
        <h2 title={f.name}>{f.name}</h2>
        <button type="button" class="close" aria-label="Close details" onClick={props.onClose}>
          ×
        </button>
      </header>
      <figure class="preview" aria-label="Preview">
        {image && <img src={image} alt={`Preview of ${f.name}`} />}
        {text !== null && <pre class="text-preview">{text}</pre>}
        {!image && text === null && (
          <p class="note">
            {isFolder
              ? "A folder."
              : f.state !== "READY"
                ? `No preview while the file is ${(f.state ?? "").toLowerCase()}.`
                : "No preview for this type."}
          </p>
        )}
      </figure>
      <dl class="facts">
        {!isFolder && (
          <>
            <dt>Size</dt>
            <dd>{bytes(f.sizeBytes)}</dd>
            <dt>Type</dt>
            <dd>{f.contentType || "unknown"}</dd>
            <dt>State</dt>
            <dd>
              {f.state}
              {f.stateReason ? `: ${f.stateReason}` : ""}
            </dd>
          </>
        )}
        <dt>Modified</dt>
        <dd>{when(f.updateTime)}</dd>
      </dl>
      <div class="details-actions">
        {!isFolder && f.state === "READY" && (
          <button type="button" onClick={props.onDownload}>
            Download
          </button>
        )}
        <button type="button" onClick={props.onMove}>
          Move…
        </button>
        <button type="button" onClick={props.onCopy}>
          Copy…
        </button>
        <button type="button" onClick={props.onShare}>
          Share…
        </button>
      </div>
      {!isFolder && (
        <section aria-label="Versions">
          <h3>Versions</h3>
          <ol class="versions">
            {versions.map((v, i) => (
              <li key={v.id} data-version={versions.length - i}>
                <span>
                  {when(v.createTime)} · {bytes(v.sizeBytes)}
                </span>
                {v.current ? (
                  <span class="badge">current</span>
                ) : (
                  <button
                    type="button"
                    disabled={busy !== ""}
                    aria-label={`Restore version ${versions.length - i}`}
                    onClick={() => restore(v)}
                  >
                    Restore
                  </button>
                )}
              </li>
            ))}
          </ol>
        </section>
      )}
    </aside>
  );
}
