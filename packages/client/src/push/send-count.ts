/**
 * Running totals of what a push sent. The client retries a failed request by making its body again:
 * each new body starts that request's count over, and bytes still trickling in from an abandoned
 * attempt are ignored, so a retried request is counted once.
 */
export interface SendCount {
  readonly blobs: number;
  readonly bytes: number;
  /** A counter for one request; call its `attempt()` whenever the request's body is made. */
  request(): RequestCount;
}

export interface RequestCount {
  /** Starts the count of a (new) attempt over; returns the function its body reports bytes to. */
  attempt(): (n: number) => void;
  /** The request succeeded: its blobs are sent. */
  done(blobs: number): void;
}

export function createSendCount(changed: () => void): SendCount {
  let blobs = 0;
  let bytes = 0;
  return {
    get blobs() {
      return blobs;
    },
    get bytes() {
      return bytes;
    },
    request() {
      let attempts = 0;
      let counted = 0;
      return {
        attempt() {
          const current = ++attempts;
          bytes -= counted;
          counted = 0;
          return (n) => {
            if (current !== attempts) return;
            counted += n;
            bytes += n;
            changed();
          };
        },
        done(n) {
          blobs += n;
          changed();
        },
      };
    },
  };
}
