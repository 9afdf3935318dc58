/**
 * A bound on parallel work (`--concurrency`): at most `n` jobs run at once, the rest wait in arrival order. A job is
 * one request or one file, never a job that waits for others (that could deadlock a full pool).
 * @example const limit = limiter(8); await Promise.all(ids.map((id) => limit(() => fetchOne(id))));
 */
export function limiter(n: number): <T>(job: () => Promise<T>) => Promise<T> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`concurrency: expected a whole number >= 1, got ${n}`);
  let running = 0;
  const waiting: Array<() => void> = [];
  // A finished job hands its slot to the next waiter directly, so a newcomer cannot slip in between.
  const release = (): void => {
    const next = waiting.shift();
    if (next !== undefined) next();
    else running--;
  };
  return async <T>(job: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await job();
    } finally {
      release();
    }
  };
}
