import { createApiClient, type ApiClient, type Schemas, unwrap } from '#api-client';

export type Role = Schemas['PrincipalDto']['role'];

/** A signed-in console: the key lives in sessionStorage only (gone when the tab closes). */
export interface Session {
  readonly apiKey: string;
  readonly actor: string;
  readonly role: Role;
  readonly api: ApiClient;
}

const STORAGE_KEY = 'edgefleet.apiKey';
// API keys are 256-bit random strings; anything far longer is a paste mistake, not a key.
export const MAX_KEY_LENGTH = 512;

export const storedKey = (): string | null => sessionStorage.getItem(STORAGE_KEY);
export const storeKey = (key: string): void => sessionStorage.setItem(STORAGE_KEY, key);
export const forgetKey = (): void => sessionStorage.removeItem(STORAGE_KEY);

export const apiFor = (apiKey: string): ApiClient => createApiClient({ baseUrl: location.origin, apiKey });

/** Mutations need operator (docs/architecture.md#auth); the console hides what the role cannot do. */
export const canMutate = (role: Role): boolean => role === 'operator' || role === 'admin';

/** Checks a key with GET /v1/whoami: the answer is the role the console shows itself for. */
export async function signIn(apiKey: string): Promise<Session> {
  const api = apiFor(apiKey);
  const me = unwrap(await api.GET('/v1/whoami'));
  return { apiKey, api, actor: me.actor, role: me.role };
}
