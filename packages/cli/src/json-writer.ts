/**
 * JSON.stringify for documents that stream: an AsyncIterable inside the value is written as an array
 * element by element, and a function is called when the writer reaches it (so a total computed while
 * a listing streams can follow the listing). A million-entry `dpkg ls --json` stays in bounded memory.
 */
export async function writeJson(value: unknown, write: (text: string) => Promise<void>): Promise<void> {
  await writeValue(await settle(value), write);
}

async function settle(value: unknown): Promise<unknown> {
  let v = value;
  if (typeof v === "function") v = await (v as () => unknown)();
  if (isObject(v) && typeof (v as { toJSON?: unknown }).toJSON === "function")
    v = (v as { toJSON(): unknown }).toJSON();
  return v;
}

async function writeValue(value: unknown, write: (text: string) => Promise<void>): Promise<void> {
  if (Array.isArray(value) || isAsyncIterable(value)) {
    await write("[");
    let first = true;
    for await (const item of value as AsyncIterable<unknown> | unknown[]) {
      const v = await settle(item);
      if (!first) await write(",");
      first = false;
      // Like JSON.stringify: an element that has no JSON form becomes null.
      if (v === undefined || typeof v === "symbol" || typeof v === "function") await write("null");
      else await writeValue(v, write);
    }
    await write("]");
    return;
  }
  if (isObject(value)) {
    await write("{");
    let first = true;
    for (const [key, raw] of Object.entries(value)) {
      const v = await settle(raw);
      if (v === undefined || typeof v === "symbol" || typeof v === "function") continue;
      await write(`${first ? "" : ","}${JSON.stringify(key)}:`);
      first = false;
      await writeValue(v, write);
    }
    await write("}");
    return;
  }
  await write(JSON.stringify(value) ?? "null");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return isObject(value) && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
}
