// Progress bars (cli-progress) on stderr, only when stderr is a terminal and --json is off: one
// bar per file in flight and a total with the rate and ETA. Elsewhere every call is a no-op.
import cliProgress from "cli-progress";

export interface Bar {
  /** Bytes done so far (absolute, including what an earlier run stored). */
  set(done: number): void;
  finish(): void;
}

export interface Progress {
  bar(name: string, total: number, done: number): Bar;
  stop(): void;
}

export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

const noBar: Bar = { set() {}, finish() {} };

export function createProgress(opts: { enabled: boolean; total: number; label: string }): Progress {
  if (!opts.enabled) return { bar: () => noBar, stop() {} };
  const multi = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
      barsize: 24,
      etaBuffer: 50,
      fps: 10,
      format: (options, params, payload) => {
        const bar = cliProgress.Format.BarFormat(params.progress, options);
        const pct = `${Math.floor(params.progress * 100)}`.padStart(3);
        const sizes = `${humanBytes(params.value)}/${humanBytes(params.total)}`;
        if (!payload.isTotal) return `${bar} ${pct}% ${sizes}  ${payload.name}`;
        const rate = humanBytes(payload.rate ?? 0);
        const eta = Number.isFinite(params.eta) ? `${params.eta}s` : "--";
        return `${bar} ${pct}% ${sizes}  ${opts.label} total  ${rate}/s  ETA ${eta}`;
      },
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  let done = 0;
  let sent = 0; // this run's bytes: what earlier runs stored does not count towards the rate
  const total = multi.create(Math.max(opts.total, 1), 0, { isTotal: true, rate: 0 });
  const updateTotal = () => {
    const secs = Math.max((Date.now() - started) / 1000, 0.001);
    total.update(done, { isTotal: true, rate: sent / secs });
  };
  return {
    bar(name, size, start) {
      const b = multi.create(Math.max(size, 1), start, { name, isTotal: false });
      let last = start;
      done += start;
      updateTotal();
      return {
        set(n) {
          done += n - last;
          sent += n - last;
          last = n;
          b.update(n);
          updateTotal();
        },
        finish() {
          b.update(Math.max(size, 1));
          b.stop();
        },
      };
    },
    stop() {
      updateTotal();
      multi.stop();
    },
  };
}
