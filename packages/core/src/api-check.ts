import type { TSchema } from "typebox";
import { Compile } from "typebox/compile";
import * as api from "./api.js";

/** The name of a schema of the HTTP contract (`api.*`), as the client names what it expects back. */
export type ApiSchemaName = { [K in keyof typeof api]: (typeof api)[K] extends TSchema ? K : never }[keyof typeof api];

const compiled = new Map<ApiSchemaName, { Check(value: unknown): boolean }>();

/**
 * Whether `value` matches the schema `name`: the client checks the registry's JSON answers with the
 * same schemas the server validates requests with, so an answer garbled on the way (or from a broken
 * registry) is caught as such instead of failing later as a property of undefined. Callers load this
 * module (`@dpkg/core/api-check`) when they first need it: it brings typebox and every schema.
 */
export function matchesApi(name: ApiSchemaName, value: unknown): boolean {
  let validator = compiled.get(name);
  if (validator === undefined) {
    validator = Compile(api[name] as TSchema);
    compiled.set(name, validator);
  }
  return validator.Check(value);
}
