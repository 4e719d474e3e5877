import { mkdir } from "node:fs/promises";

/** Creates folders once per process: every blob write used to pay a mkdir for its tmp and shard folder. */
export class DirMaker {
  readonly #made = new Map<string, Promise<void>>();

  /** Makes `dir` (and its parents) unless this process already did. */
  ensure(dir: string): Promise<void> {
    let made = this.#made.get(dir);
    if (made === undefined) {
      made = mkdir(dir, { recursive: true }).then(() => undefined);
      made.catch(() => this.#made.delete(dir));
      this.#made.set(dir, made);
    }
    return made;
  }

  /** Forgets `dir` (someone removed it) and makes it again. */
  remake(dir: string): Promise<void> {
    this.#made.delete(dir);
    return this.ensure(dir);
  }
}
