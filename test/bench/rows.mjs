// One table row per case, in the units the issue asks for, and the targets of issue 5 as checks
// over measured cases (ratios within one run, never absolute timings).
const MB = 1e6;

/** A measured case as a table row; `bytes` is the payload the MB/s figure is over. */
export function row(name, m, bytes) {
  return {
    case: name,
    seconds: m.seconds,
    "MB/s": bytes > 0 ? bytes / MB / m.seconds : "",
    "S3 req": m.s3?.requests ?? "",
    "S3 up MB": m.s3 ? m.s3.bytesUp / MB : "",
    "S3 down MB": m.s3 ? m.s3.bytesDown / MB : "",
    "client RSS MB": m.clientRss ? m.clientRss / MB : "",
    "server RSS MB": m.serverRss ? m.serverRss / MB : "",
    "CPU s client/registry/S3": cpuText(m.cpu),
    ratio: "",
    target: "",
    met: "",
  };
}

/** CPU seconds of the measured process, the registry and the S3 server ("-" where not measured). */
function cpuText(cpu) {
  if (cpu === undefined) return "";
  return [cpu.client, cpu.registry, cpu.s3].map((s) => (s === undefined ? "-" : s.toFixed(2))).join("/");
}

/**
 * Records a target on its row: `value` is the measured ratio, `text` how it reads, and `ok` whether
 * the target holds. A row may carry several targets (install: vs the SDK and vs cp -r).
 */
export function target(r, { value, text, goal, ok }) {
  const join = (a, b) => (a === "" ? b : `${a}; ${b}`);
  r.ratio = join(r.ratio, `${value.toFixed(value < 10 ? 2 : 1)}${text}`);
  r.target = join(r.target, goal);
  r.met = r.met === "" ? (ok ? "yes" : "NO") : r.met === "yes" && ok ? "yes" : "NO";
  (r.targets ??= []).push({ value, goal, ok });
  return r;
}
