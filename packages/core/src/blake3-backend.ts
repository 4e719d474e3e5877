import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * BLAKE3 implementations. The native addon (@c4312/blake3-native, compiled by node-gyp at install
 * time from BLAKE3's C sources with SIMD) is about 2-3x faster than WebAssembly; blake3-wasm is the
 * fallback when the addon did not build. Both come from the same project and give identical digests
 * (a test asserts it against the official vectors). DPKG_BLAKE3=wasm forces the fallback.
 */
export interface RawHasher {
  update(data: Uint8Array): void;
  /** Output bytes; BLAKE3 is an XOF, so any length works; the default is 32. */
  digest(length?: number): Uint8Array;
  dispose(): void;
}

export type Blake3BackendName = "native" | "wasm";

export interface Blake3Backend {
  readonly name: Blake3BackendName;
  createHasher(): RawHasher;
}

interface ModuleHash {
  update(data: Uint8Array): unknown;
  digest(options?: { length: number }): Uint8Array;
  dispose?(): void;
}

interface Blake3Module {
  load?(): Promise<void>;
  createHash(): ModuleHash;
}

const MODULES: Record<Blake3BackendName, string> = {
  native: "@c4312/blake3-native",
  wasm: "blake3-wasm",
};

// Each blake3-wasm load() instantiates a fresh Emscripten module, which adds process-wide
// uncaughtException/unhandledRejection listeners and its own wasm memory; so load each backend once.
const loaded = new Map<Blake3BackendName, Promise<Blake3Backend>>();

/** Loads one implementation (once per process); throws if it is not installed or cannot load here. */
export function loadBlake3Backend(name: Blake3BackendName): Promise<Blake3Backend> {
  let backend = loaded.get(name);
  if (backend === undefined) {
    backend = loadUncached(name);
    loaded.set(name, backend);
    // A failed load may succeed later (e.g. after a rebuild); do not cache the failure.
    backend.catch(() => loaded.delete(name));
  }
  return backend;
}

/** The addon's own hasher: what the package's createHash wraps in a stream.Transform. */
interface NativeHash {
  update(data: Uint8Array): void;
  digest(length?: number): Uint8Array;
}

interface NativeBinding {
  createHash(): NativeHash;
}

/**
 * The native addon's binding itself, or undefined if it is not where the package keeps it. The
 * package's createHash builds a stream.Transform around each hasher, which costs more than hashing a
 * file of a few KiB (a push of 5,000 small files spent ~120 ms of a registry's CPU just there); the
 * binding's hashers are plain objects. Its digest() returns a fresh Buffer, so no copy is needed.
 */
function loadNativeBinding(): NativeBinding | undefined {
  try {
    const require = createRequire(import.meta.url);
    const main = require.resolve(MODULES.native);
    const binding = require(join(dirname(main), "..", "build", "Release", "blake3.node")) as Partial<NativeBinding>;
    return typeof binding.createHash === "function" ? (binding as NativeBinding) : undefined;
  } catch {
    return undefined;
  }
}

async function loadUncached(name: Blake3BackendName): Promise<Blake3Backend> {
  if (name === "native") {
    const binding = loadNativeBinding();
    if (binding !== undefined) {
      return {
        name,
        createHasher(): RawHasher {
          const h = binding.createHash();
          return {
            update(data) {
              h.update(data);
            },
            digest(length = 32) {
              return h.digest(length);
            },
            dispose() {
              // Freed by the garbage collector: the addon holds no memory outside the object.
            },
          };
        },
      };
    }
  }
  const specifier: string = MODULES[name];
  const imported = (await import(specifier)) as Blake3Module & { default?: Blake3Module };
  // CommonJS modules arrive with their exports on `default` under some loaders.
  const mod: Blake3Module = typeof imported.createHash === "function" ? imported : (imported.default as Blake3Module);
  await mod.load?.();
  return {
    name,
    createHasher(): RawHasher {
      const h = mod.createHash();
      let disposed = false;
      return {
        update(data) {
          h.update(data);
        },
        digest(length = 32) {
          return new Uint8Array(h.digest({ length }));
        },
        dispose() {
          if (!disposed) {
            disposed = true;
            h.dispose?.();
          }
        },
      };
    },
  };
}

/** The fastest implementation that loads here: native, else WebAssembly. */
export async function loadBestBlake3Backend(preferred = process.env.DPKG_BLAKE3): Promise<Blake3Backend> {
  if (preferred !== "wasm") {
    try {
      return await loadBlake3Backend("native");
    } catch {
      // The addon is an optional dependency: fall through to WebAssembly.
    }
  }
  return loadBlake3Backend("wasm");
}
