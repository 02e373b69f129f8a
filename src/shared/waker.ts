/** A sleep that another part of the daemon can cut short (new mail, a queued notification, stop). */
export function createWaker() {
  let wake: (() => void) | undefined;
  return {
    sleep(ms: number): Promise<void> {
      return new Promise<void>((resolve) => {
        const t = setTimeout(done, ms);
        function done(): void {
          clearTimeout(t);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    },
    wake(): void {
      wake?.();
    },
  };
}

export type Waker = ReturnType<typeof createWaker>;
