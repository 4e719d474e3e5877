import type { Argv } from "yargs";
import type { Context } from "./context.js";
import type { Outcome } from "./output.js";

/** Global options as yargs parses them. */
export interface GlobalArgs {
  registry: string | undefined;
  token: string | undefined;
  json: boolean;
  quiet: boolean;
  concurrency: number | undefined;
}

export type Run = (ctx: Context) => Promise<Outcome>;

/**
 * A command adds itself to the parser; its yargs handler only records what to run. The run happens
 * after parsing, outside yargs, so errors from the library are never mistaken for usage errors.
 */
export type RegisterCommand = (y: Argv<GlobalArgs>, select: (run: Run) => void) => Argv<GlobalArgs>;
