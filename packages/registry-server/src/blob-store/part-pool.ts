/**
 * Part buffers kept for the next uploads. A fresh buffer of several MiB costs a page fault per 4 KiB the
 * first time it is written (and the allocator hands such buffers back to the system when freed): for
 * large uploads that cost more than copying the bytes. Idle buffers are kept while uploads keep coming
 * (at most `keep` of them) and all dropped once none was taken for `idleMs`, so an idle registry holds
 * no part memory.
 */
export class PartPool {
  private readonly idle: ArrayBuffer[] = [];
  /**
   * The buffers this pool made. Only those are taken back: a put may be handed someone else's
   * buffer as a whole part (readParts passes such parts through), and that buffer is its owner's
   * to reuse, not the pool's.
   */
  private readonly own = new WeakSet<ArrayBuffer>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly partSize: number,
    private readonly keep: number,
    private readonly idleMs = 2000,
  ) {}

  take(): Buffer {
    this.timer?.refresh();
    const buffer = this.idle.pop();
    if (buffer !== undefined) return Buffer.from(buffer);
    const fresh = Buffer.allocUnsafeSlow(this.partSize);
    this.own.add(fresh.buffer);
    return fresh;
  }

  /** Takes back a part (or the start of one) once nothing reads it any more; buffers it did not make are left alone. */
  give(part: Uint8Array): void {
    const buffer = part.buffer;
    if (!(buffer instanceof ArrayBuffer) || !this.own.has(buffer) || part.byteOffset !== 0) return;
    if (this.idle.length >= this.keep || this.idle.includes(buffer)) return;
    this.idle.push(buffer);
    if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.idle.length = 0;
        this.timer = undefined;
      }, this.idleMs);
      this.timer.unref();
    }
  }
}
