// Used / reserved / quota from GET /v1/usage, refreshed after every change.
import { useEffect, useState } from "preact/hooks";
import * as api from "./api.ts";
import { bytes } from "./format.ts";

export function UsageBar(props: { tick: number; onError: (e: unknown) => void }) {
  const [u, setU] = useState<api.Usage | null>(null);
  useEffect(() => {
    api.usage().then(setU, props.onError);
  }, [props.tick]);
  if (!u) return <span class="usage" />;
  const quota = Number(u.quotaBytes ?? 0);
  const used = Number(u.usedBytes ?? 0);
  const reserved = Number(u.reservedBytes ?? 0);
  const label = `${bytes(used)} used${reserved ? `, ${bytes(reserved)} reserved` : ""}${quota ? ` of ${bytes(quota)}` : ""}`;
  return (
    <span class="usage" title={label}>
      {quota > 0 && <meter min={0} max={quota} value={used + reserved} aria-label="Storage used" />}
      <span class="usage-text">{label}</span>
    </span>
  );
}
