import { type ApiClient, unwrap } from '#api-client';

/** Version id → "model 1.2.0 (fp32)": nodes and rollouts carry ids, people read names. */
export async function loadVersionNames(api: ApiClient): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  const models = unwrap(await api.GET('/v1/models'));
  const lists = await Promise.all(models.map(async (m) => unwrap(await api.GET('/v1/models/{name}/versions', { params: { path: { name: m.name } } }))));
  for (const v of lists.flat()) names.set(v.id, `${v.model} ${v.version} (${v.variant})`);
  return names;
}
