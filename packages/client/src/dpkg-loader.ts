/**
 * Module loader hooks for `dpkg:` specifiers (installed by register.ts). `dpkg:ns/name[@ref]`
 * becomes a module whose default export is `await open("ns/name[@ref]")`, resolved against the
 * dpkg.lock nearest to the process's working directory.
 */
interface ResolveResult {
  url: string;
  shortCircuit?: boolean;
  format?: string;
}
interface LoadResult {
  format: string;
  source?: string;
  shortCircuit?: boolean;
}
type NextResolve = (specifier: string, context: unknown) => Promise<ResolveResult>;
type NextLoad = (url: string, context: unknown) => Promise<LoadResult>;

const PREFIX = "dpkg:";

export async function resolve(specifier: string, context: unknown, next: NextResolve): Promise<ResolveResult> {
  if (specifier.startsWith(PREFIX)) return { url: specifier, shortCircuit: true };
  return next(specifier, context);
}

export async function load(url: string, context: unknown, next: NextLoad): Promise<LoadResult> {
  if (!url.startsWith(PREFIX)) return next(url, context);
  const spec = url.slice(PREFIX.length);
  const openUrl = new URL("./open.js", import.meta.url).href;
  return {
    format: "module",
    shortCircuit: true,
    source: `import { open } from ${JSON.stringify(openUrl)};\nexport default await open(${JSON.stringify(spec)});\n`,
  };
}
