import http from 'node:http';

export interface CountingProxy {
  /** The proxy's endpoint: give it to a transport instead of the emulator's. */
  readonly endpoint: string;
  /** Every API call that passed, in order: "SNS.Publish", "SQS.SendMessageBatch", … */
  readonly calls: string[];
  /** How many calls of `action` ("Publish", "SendMessageBatch") passed. */
  count(action: string): number;
  close(): Promise<void>;
}

/** The API action of a request: SQS's JSON protocol names it in a header, SNS's query protocol in the form body. */
function actionOf(request: http.IncomingMessage, body: Buffer): string {
  const target = request.headers['x-amz-target'];
  if (typeof target === 'string') return `SQS.${target.split('.').pop()}`;
  const action = new URLSearchParams(body.toString('utf8')).get('Action');
  return `SNS.${action ?? 'unknown'}`;
}

/**
 * An HTTP proxy in front of the emulator that records which API calls a client makes (how many
 * Publish, PublishBatch, …): requests and answers pass unchanged.
 */
export async function countingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const calls: string[] = [];
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      calls.push(actionOf(request, body));
      const forward = http.request(
        { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers, agent },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      forward.on('error', () => response.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    count: (action) => calls.filter((c) => c.endsWith(`.${action}`)).length,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
