// The upload panel: total and per-file progress, pause / resume / retry / cancel, and uploads
// interrupted by a closed page, resumed once their file is picked again.
import { useEffect, useState } from "preact/hooks";
import { bytes } from "./format.ts";
import type { UploadItem, UploadManager } from "./upload-manager.ts";

export function useUploads(m: UploadManager): UploadItem[] {
  const [items, setItems] = useState(m.items);
  useEffect(() => {
    setItems(m.items);
    return m.subscribe(() => setItems(m.items));
  }, [m]);
  return items;
}

const label: Record<UploadItem["status"], string> = {
  queued: "waiting",
  uploading: "",
  paused: "paused",
  interrupted: "interrupted — pick the file again to resume",
  done: "done",
  failed: "",
};

export function Uploads(props: { manager: UploadManager }) {
  const m = props.manager;
  const items = useUploads(m);
  const [pickError, setPickError] = useState("");
  if (items.length === 0) return null;
  const sent = items.reduce((n, u) => n + u.sent, 0);
  const total = items.reduce((n, u) => n + u.size, 0);
  const active = items.filter((u) => u.status !== "done").length;
  return (
    <section class="uploads" aria-label="Uploads">
      <div class="uploads-head">
        <span class="uploads-total">
          {active ? `Uploading ${active} of ${items.length}` : `${items.length} uploaded`}: {bytes(sent)} of{" "}
          {bytes(total)}
        </span>
        <progress max={total || 1} value={sent} aria-label="Total upload progress" />
        <button type="button" onClick={() => m.clearFinished()}>
          Clear finished
        </button>
      </div>
      {pickError && (
        <p class="upload-pick-error" role="alert">
          {pickError}
        </p>
      )}
      <ul>
        {items.map((u) => (
          <li key={u.key} class={`upload upload-${u.status}`} data-name={u.name}>
            <span class="upload-name" title={u.name}>
              {u.name}
            </span>
            <progress max={u.size || 1} value={u.sent} aria-label={`Progress of ${u.name}`} />
            <span class="upload-status" role={u.status === "failed" ? "alert" : undefined}>
              {u.status === "failed"
                ? u.error
                : u.status === "uploading"
                  ? `${bytes(u.sent)} of ${bytes(u.size)}`
                  : label[u.status]}
            </span>
            <span class="upload-actions">
              {(u.status === "uploading" || u.status === "queued") && (
                <button type="button" onClick={() => m.pause(u.key)} aria-label={`Pause ${u.name}`}>
                  Pause
                </button>
              )}
              {u.status === "paused" && (
                <button type="button" onClick={() => m.resume(u.key)} aria-label={`Resume ${u.name}`}>
                  Resume
                </button>
              )}
              {u.status === "failed" && (
                <button type="button" onClick={() => m.resume(u.key)} aria-label={`Retry ${u.name}`}>
                  Retry
                </button>
              )}
              {u.status === "interrupted" && (
                <label class="button">
                  Pick file…
                  <input
                    type="file"
                    class="visually-hidden"
                    aria-label={`Pick the file to resume ${u.name}`}
                    onChange={(e) => {
                      const f = e.currentTarget.files?.[0];
                      e.currentTarget.value = "";
                      if (f) setPickError(m.attach(u.key, f) ?? "");
                    }}
                  />
                </label>
              )}
              {u.status !== "done" && (
                <button
                  type="button"
                  onClick={() => m.cancel(u.key)}
                  aria-label={`Cancel upload of ${u.name}`}
                >
                  Cancel
                </button>
              )}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
