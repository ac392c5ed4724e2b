import net from 'node:net';

/**
 * A TCP proxy in front of a test server that can drop every connection and refuse new ones for a while:
 * a network cut as a client sees it. It keeps each request head it forwards (a chunk from the client
 * that starts with a method; HTTP clients write a head in one piece), so a test can read which headers a
 * reconnect carried.
 */
export class TcpProxy {
  readonly heads: string[] = [];
  private readonly sockets = new Set<net.Socket>();
  private cutting = false;

  private constructor(
    private readonly server: net.Server,
    readonly url: string,
  ) {}

  static async start(target: URL): Promise<TcpProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const proxy = new TcpProxy(server, `http://127.0.0.1:${port}`);
    server.on('connection', (client) => proxy.accept(client, target));
    return proxy;
  }

  private accept(client: net.Socket, target: URL): void {
    if (this.cutting) return void client.destroy();
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => {
      const text = chunk.subarray(0, 4096).toString('latin1');
      if (/^(GET|POST|PUT|PATCH|DELETE|HEAD) /.test(text)) this.heads.push(text.slice(0, text.indexOf('\r\n\r\n') + 1 || undefined));
    });
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  /** Drops every open connection and refuses new ones until `restore`. */
  cut(): void {
    this.cutting = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cutting = false;
  }

  /** The request heads of the event stream's connections, in order. */
  streamRequests(): string[] {
    return this.heads.filter((h) => h.startsWith('GET /v1/events/stream'));
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
