// @dpkg/cli as a library: run the dpkg command with any streams and environment (bin.ts uses the process's).
export { runCli } from "./cli.js";
export type { Io } from "./context.js";
