import pg from 'pg';

/** Connects to the server's maintenance database to create or drop the database named in `url`. */
async function withAdminClient<T>(url: string, work: (client: pg.Client, name: string) => Promise<T>): Promise<T> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`refusing unusual database name '${name}'`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    return await work(client, name);
  } finally {
    await client.end();
  }
}

export async function createDatabase(url: string, options: { ifMissing?: boolean } = {}): Promise<boolean> {
  return withAdminClient(url, async (client, name) => {
    if (options.ifMissing) {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (found.rowCount) return false;
    }
    await client.query(`CREATE DATABASE "${name}"`);
    return true;
  });
}

export async function dropDatabase(url: string): Promise<void> {
  await withAdminClient(url, (client, name) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}
