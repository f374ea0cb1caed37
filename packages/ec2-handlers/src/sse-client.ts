/** One server-sent event as read off the stream. */
export interface ServerSentEvent {
  event: string;
  data: string;
  id?: string;
}

export interface SseConnection {
  /** Resolves once the response headers arrived (the server has registered the stream). */
  readonly opened: Promise<void>;
  close(): void;
}

/**
 * A small Server-Sent-Events reader over fetch, for Node clients (the demo, the tests): browsers
 * have EventSource. Calls `onEvent` for each complete frame until `close()`.
 */
export function connectSse(url: string, onEvent: (event: ServerSentEvent) => void, onError?: (error: Error) => void): SseConnection {
  const controller = new AbortController();
  let markOpen: () => void = () => {};
  let markFailed: (e: Error) => void = () => {};
  const opened = new Promise<void>((resolve, reject) => {
    markOpen = resolve;
    markFailed = reject;
  });
  opened.catch(() => {});
  (async () => {
    const res = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    if (!res.ok || !res.body) throw new Error(`SSE ${url} answered ${res.status}`);
    markOpen();
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
        const parsed: ServerSentEvent = { event: 'message', data: '' };
        const data: string[] = [];
        for (const line of frame.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') parsed.event = value;
          else if (field === 'data') data.push(value);
          else if (field === 'id') parsed.id = value;
        }
        if (data.length > 0) onEvent({ ...parsed, data: data.join('\n') });
      }
    }
  })().catch((error: unknown) => {
    const e = error instanceof Error ? error : new Error(String(error));
    markFailed(e);
    if (!controller.signal.aborted) onError?.(e);
  });
  return { opened, close: () => controller.abort() };
}
