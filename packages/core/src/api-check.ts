import type { Static, TSchema } from "typebox";
import { Compile } from "typebox/compile";

/** A schema of the HTTP contract (`api.*`), as the client names what it expects back. */
export type ApiSchema = TSchema;

const compiled = new WeakMap<TSchema, { Check(value: unknown): boolean }>();

/**
 * Whether `value` matches `schema`: the client checks the registry's JSON answers with the same
 * schemas the server validates requests with, so an answer garbled on the way (or from a broken
 * registry) is caught as such instead of failing later as a property of undefined.
 */
export function matchesApi<T extends TSchema>(schema: T, value: unknown): value is Static<T> {
  let validator = compiled.get(schema);
  if (validator === undefined) {
    validator = Compile(schema);
    compiled.set(schema, validator);
  }
  return validator.Check(value);
}
