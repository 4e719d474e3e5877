// Child processes the bench times: a node script run to completion with its peak RSS (from
// /usr/bin/time where present, else sampled from /proc), and the peak-RSS window of a long-lived
// process (the registry), reset before each case through /proc/<pid>/clear_refs.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const GNU_TIME = "/usr/bin/time";
const hasGnuTime = existsSync(GNU_TIME);
// /usr/bin/time writes its figure to a file; they are kept until the end like every other file.
let timeDir;
let timeFiles = 0;

/** Removes the /usr/bin/time output files (call once, at the very end). */
export async function cleanupProcessFiles() {
  if (timeDir !== undefined) await rm(await timeDir, { recursive: true, force: true });
  timeDir = undefined;
}

/** `node script ...args` through runProcess; `nodeArgs` go before the script (e.g. --cpu-prof). */
export function runNode(script, args, { nodeArgs = [], ...options } = {}) {
  return runProcess(process.execPath, [...nodeArgs, script, ...args], options);
}

/**
 * Runs a program and resolves with seconds (wall), exit code, stdout, stderr, peak RSS in bytes and
 * CPU seconds (user + system; undefined without GNU time).
 * Throws on a non-zero exit unless `allowFail`; `timeoutMs` kills a stuck child.
 */
export async function runProcess(program, argv, { cwd, env, timeoutMs = 600_000, allowFail = false } = {}) {
  if (hasGnuTime) timeDir ??= mkdtemp(join(tmpdir(), "dpkg-bench-time-"));
  const timeFile = hasGnuTime ? join(await timeDir, `rss-${++timeFiles}`) : undefined;
  // Peak RSS in KiB, then user and system CPU seconds.
  const [cmd, cmdArgs] = hasGnuTime ? [GNU_TIME, ["-f", "%M %U %S", "-o", timeFile, program, ...argv]] : [program, argv];
  const start = process.hrtime.bigint();
  const child = spawn(cmd, cmdArgs, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s) => (stdout += s));
  child.stderr.setEncoding("utf8").on("data", (s) => (stderr += s));
  const sampler = hasGnuTime ? undefined : sampleHwm(child.pid);
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise((resolve) => child.once("close", (c, signal) => resolve(c ?? signal)));
  clearTimeout(timer);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  let peakRss;
  let cpuSeconds;
  if (hasGnuTime) {
    const [rssKib, user, system] = (await readFile(timeFile, "utf8")).trim().split("\n").pop().split(" ").map(Number);
    peakRss = rssKib * 1024;
    cpuSeconds = user + system;
  } else {
    peakRss = sampler.stop();
  }
  if (code !== 0 && !allowFail) {
    throw new Error(`${program} ${argv.join(" ")} exited with ${code}\n${stderr.slice(-4000)}`);
  }
  return { seconds, code, stdout, stderr, peakRss, cpuSeconds };
}

function sampleHwm(pid) {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, readHwm(pid) ?? 0)), 20);
  return { stop: () => (clearInterval(timer), peak) };
}

/** VmHWM of a live process in bytes, or undefined once it is gone. */
export function readHwm(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Starts a new peak-RSS window: "5" resets VmHWM to the current RSS (Linux ≥ 4.0). */
export function resetHwm(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** CPU seconds (user + system) a live process has used, from /proc/<pid>/stat; undefined once gone. */
export function readCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesized command name; utime and stime are the 12th and 13th of them.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

// USER_HZ: 100 on every Linux architecture Node runs on.
const CLOCK_TICKS = 100;
