import type { TestProject } from "vitest/node";
import { startS3rver } from "./s3rver.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The endpoint of the one s3rver this test run shares; each test file makes its own bucket. */
    s3Endpoint: string;
  }
}

/** Starts one s3rver for the whole run (test files get it through `inject("s3Endpoint")`) and stops it after. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const s3 = await startS3rver();
  project.provide("s3Endpoint", s3.endpoint);
  return () => s3.stop();
}
