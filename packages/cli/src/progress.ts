import { formatBytes, formatDuration } from "./format.js";

export interface ProgressSnapshot {
  /** e.g. "hash", "upload", "fetch"; a new phase restarts the rate measurement. */
  phase?: string;
  files?: number;
  totalFiles?: number;
  bytes: number;
  totalBytes?: number;
  /** Bytes sent meanwhile, when sending overlaps the phase (a push sends while it still hashes). */
  sentBytes?: number;
}

export interface Progress {
  update(snapshot: ProgressSnapshot): void;
  /** Clears the bar; call before printing results (also on failure). */
  done(): void;
}

export interface ProgressStream {
  write(text: string): boolean;
  columns?: number;
}

const NOOP: Progress = { update() {}, done() {} };
const WINDOW_MS = 5_000;

/**
 * A one-line progress bar on stderr, redrawn in place at most every `intervalMs`: files, bytes, rate
 * and ETA. Disabled (a no-op) unless the caller decided stderr is a TTY the user watches; it never
 * writes a newline, so it leaves no trace in scrollback once done() clears it.
 */
export function createProgress(options: {
  stream: ProgressStream;
  label: string;
  enabled: boolean;
  intervalMs?: number;
  now?: () => number;
}): Progress {
  if (!options.enabled) return NOOP;
  const now = options.now ?? (() => performance.now());
  const interval = options.intervalMs ?? 100;
  const samples: { t: number; bytes: number }[] = [];
  let latest: ProgressSnapshot | undefined;
  let phase: string | undefined;
  let lastDraw = -Infinity;
  let drawn = false;

  const draw = (): void => {
    if (latest === undefined) return;
    const t = now();
    lastDraw = t;
    const width = Math.max(20, (options.stream.columns || 80) - 1);
    options.stream.write(`\r${renderProgressLine(options.label, latest, rateOf(samples), width)}\u001b[K`);
    drawn = true;
  };
  // Keeps rate and ETA moving while one long transfer reports nothing; unref'd so it never holds the process.
  const timer = setInterval(draw, Math.max(interval, 250));
  timer.unref();

  return {
    update(snapshot) {
      const t = now();
      if (snapshot.phase !== phase) {
        phase = snapshot.phase;
        samples.length = 0;
      }
      samples.push({ t, bytes: snapshot.bytes });
      while (samples.length > 2 && t - (samples[0]?.t ?? t) > WINDOW_MS) samples.shift();
      latest = snapshot;
      if (t - lastDraw >= interval) draw();
    },
    done() {
      clearInterval(timer);
      if (drawn) options.stream.write("\r\u001b[K");
      drawn = false;
    },
  };
}

/** Bytes per second over the sample window, or undefined before there is a measurable span. */
export function rateOf(samples: readonly { t: number; bytes: number }[]): number | undefined {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (first === undefined || last === undefined || last.t - first.t < 200) return undefined;
  return ((last.bytes - first.bytes) * 1000) / (last.t - first.t);
}

/** `label phase [=====>    ]  45%  120/300 files  1.2 GiB/2.5 GiB  sent 0.9 GiB  35 MiB/s  ETA 38s`, cut to `width`. */
export function renderProgressLine(
  label: string,
  s: ProgressSnapshot,
  rate: number | undefined,
  width: number,
): string {
  const parts: string[] = [s.phase === undefined ? label : `${label} ${s.phase}`];
  const total = s.totalBytes;
  const fraction = total !== undefined && total > 0 ? Math.min(1, s.bytes / total) : undefined;
  if (fraction !== undefined)
    parts.push(`${bar(fraction, width >= 100 ? 30 : 16)} ${String(Math.floor(fraction * 100)).padStart(3)}%`);
  if (s.files !== undefined)
    parts.push(s.totalFiles !== undefined ? `${s.files}/${s.totalFiles} files` : `${s.files} files`);
  parts.push(total !== undefined ? `${formatBytes(s.bytes)}/${formatBytes(total)}` : formatBytes(s.bytes));
  if (s.sentBytes !== undefined && s.sentBytes !== s.bytes) parts.push(`sent ${formatBytes(s.sentBytes)}`);
  if (rate !== undefined) {
    parts.push(`${formatBytes(rate)}/s`);
    if (total !== undefined && rate > 0 && s.bytes < total)
      parts.push(`ETA ${formatDuration((total - s.bytes) / rate)}`);
  }
  const line = parts.join("  ");
  return line.length > width ? line.slice(0, width) : line;
}

function bar(fraction: number, cells: number): string {
  const full = Math.floor(fraction * cells);
  const head = full < cells ? ">" : "";
  return `[${"=".repeat(full)}${head}${" ".repeat(Math.max(0, cells - full - head.length))}]`;
}
