// Display helpers: sizes in binary units, times in the browser's locale.

export function bytes(v: string | number | undefined): string {
  const n = Number(v ?? 0);
  if (!Number.isFinite(n) || n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let x = n / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(x < 10 ? 1 : 0)} ${units[i]}`;
}

export function when(t: string | undefined): string {
  if (!t) return "";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleString();
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
