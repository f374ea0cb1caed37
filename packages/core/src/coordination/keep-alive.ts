/**
 * Extends a hold every third of its TTL while the handler runs. When the store says the hold is
 * gone, or it could not confirm it for a whole TTL (store unreachable), `onLost` fires once — the
 * middleware turns that into the handler's AbortSignal.
 */
export function keepAlive(extend: (ttlMs: number) => Promise<boolean>, ttlMs: number, onLost: (why: string) => void): () => void {
  let stopped = false;
  let confirmedAt = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const interval = Math.max(10, Math.floor(ttlMs / 3));
  const tick = async () => {
    if (stopped) return;
    let why: string | undefined;
    try {
      if (await extend(ttlMs)) confirmedAt = Date.now();
      else why = 'the hold expired or was taken by another holder';
    } catch (error) {
      if (Date.now() - confirmedAt >= ttlMs) why = `could not be renewed for ${ttlMs} ms: ${String(error)}`;
    }
    if (stopped) return;
    if (why !== undefined) {
      stopped = true;
      onLost(why);
      return;
    }
    timer = setTimeout(tick, interval);
  };
  timer = setTimeout(tick, interval);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
