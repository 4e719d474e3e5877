/** Text forms shared by the human output and the progress bar. */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 1536 → "1.5 KiB"; whole bytes below 1 KiB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${Math.max(0, Math.round(bytes))} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${UNITS[unit]}`;
}

/** 75 → "1m15s"; for ETAs, so precision below a second is noise. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** "blake3:0123456789ab…" → the first 12 hex digits: enough to tell revisions apart on screen. */
export function shortDigest(digest: string, hexDigits = 12): string {
  return digest.startsWith("blake3:") ? `blake3:${digest.slice(7, 7 + hexDigits)}` : digest;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** ISO time without milliseconds, in UTC: stable across machines, sortable. */
export function formatTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, "Z");
}
