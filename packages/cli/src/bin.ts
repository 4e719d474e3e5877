#!/usr/bin/env node
import { basename } from "node:path";
import { runCli } from "./cli.js";

// `dpkg ls ... | head` closes the pipe early; that is the reader being done, not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

// Ctrl-C: take the progress bar off the line before leaving (a push or install stopped here leaves
// no revision and no half-written file; running it again resumes).
process.once("SIGINT", () => {
  process.stderr.write(`${process.stderr.isTTY ? "\r\u001b[K" : ""}dpkg: interrupted\n`);
  process.exit(130);
});

const program = basename(process.argv[1] ?? "dpkg").replace(/\.js$/, "");
const code = await runCli({
  argv: process.argv.slice(2),
  cwd: process.cwd(),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  program: program === "bin" ? "dpkg" : program,
});
// Leave through exitCode, not exit(): stdout may still be flushing into a pipe.
process.exitCode = code;
