// Per-file upload progress (bytes sent as reported by XMLHttpRequest), with cancel.
import { bytes } from "./format.ts";

export interface UploadItem {
  key: string;
  name: string;
  sent: number;
  total: number;
  status: "uploading" | "done" | "failed";
  error?: string;
  abort: () => void;
}

export function Uploads(props: { items: UploadItem[]; clear: () => void }) {
  if (props.items.length === 0) return null;
  const sent = props.items.reduce((n, u) => n + u.sent, 0);
  const total = props.items.reduce((n, u) => n + u.total, 0);
  return (
    <section class="uploads" aria-label="Uploads">
      <div class="uploads-head">
        <span>
          Uploads: {bytes(sent)} of {bytes(total)}
        </span>
        <button type="button" onClick={props.clear}>
          Clear finished
        </button>
      </div>
      <ul>
        {props.items.map((u) => (
          <li key={u.key} class={`upload upload-${u.status}`}>
            <span class="upload-name">{u.name}</span>
            <progress max={u.total || 1} value={u.sent} aria-label={`Progress of ${u.name}`} />
            <span class="upload-status" role={u.status === "failed" ? "alert" : undefined}>
              {u.status === "failed" ? u.error : u.status === "done" ? "done" : `${bytes(u.sent)}`}
            </span>
            {u.status === "uploading" && (
              <button type="button" onClick={u.abort} aria-label={`Cancel upload of ${u.name}`}>
                Cancel
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
