import net from 'node:net';

/**
 * A TCP proxy in front of a test server that can cut the network two ways: `cut()` drops every connection
 * and refuses new ones (what a client sees when a host goes away), `blackhole()` keeps connections open and
 * new ones accepted but carries no byte either way (a partition: the client notices only by its own
 * timeouts). It keeps each request head it forwards (a chunk from the client that starts with a method;
 * HTTP clients write a head in one piece), so a test can read which headers a reconnect carried.
 */
export class TcpProxy {
  readonly heads: string[] = [];
  private readonly sockets = new Set<net.Socket>();
  private mode: 'forward' | 'cut' | 'blackhole' = 'forward';

  private constructor(
    private readonly server: net.Server,
    readonly url: string,
    readonly port: number,
  ) {}

  static async start(target: URL): Promise<TcpProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const proxy = new TcpProxy(server, `http://127.0.0.1:${port}`, port);
    server.on('connection', (client) => proxy.accept(client, target));
    return proxy;
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  private accept(client: net.Socket, target: URL): void {
    if (this.mode === 'cut') return void client.destroy();
    this.track(client);
    if (this.mode === 'blackhole') return void client.resume(); // read and drop: the handshake never answers
    const upstream = net.connect(Number(target.port), target.hostname);
    this.track(upstream);
    client.on('data', (chunk: Buffer) => {
      if (this.mode !== 'forward') return;
      const text = chunk.subarray(0, 4096).toString('latin1');
      if (/^(GET|POST|PUT|PATCH|DELETE|HEAD) /.test(text)) this.heads.push(text.slice(0, text.indexOf('\r\n\r\n') + 1 || undefined));
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (this.mode === 'forward') client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  /** Drops every open connection and refuses new ones until `restore`. */
  cut(): void {
    this.mode = 'cut';
    for (const s of this.sockets) s.destroy();
  }

  /** Carries nothing from now on, in either direction, on open connections and new ones, until `restore`. */
  blackhole(): void {
    this.mode = 'blackhole';
  }

  /**
   * Forwards again. After a blackhole the connections it held are closed: bytes were dropped mid-stream,
   * so they could not carry on (a real client's keepalive would have given up on them by now).
   */
  restore(): void {
    if (this.mode === 'blackhole') for (const s of this.sockets) s.destroy();
    this.mode = 'forward';
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
