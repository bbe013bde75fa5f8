/**
 * A small in-process cache with a time bound, for what a request looks up on every call (issue 14): the principal of
 * a token, an organization id by name, a template's active version with its presets. Each API replica keeps its own;
 * nothing is shared, so a change made elsewhere (a revoked or expired token, a role removed, a template version
 * activated or retired) is seen by every replica within WARMPOOL_API_CACHE_MS (5 s by default; 0 disables). A create re-checks the cached version in
 * the statement that claims or inserts (and the template routes drop their template's entry), so no workspace is ever
 * created on a version that stopped being active or on a template since deprecated or deleted. Only hits are cached; misses always reach
 * PostgreSQL. Bounded in size: full means cleared.
 */
const MAX_ENTRIES = 10_000;

export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(private readonly ttlMs: number) {}

  async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    if (this.ttlMs <= 0) return load();
    const hit = this.entries.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = await load();
    if (value === undefined) {
      this.entries.delete(key);
      return undefined;
    }
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(key, { value, until: Date.now() + this.ttlMs });
    return value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}

/** One cache per owner object (the API's pool) and name, so test servers and replicas in one process never share. */
const caches = new WeakMap<object, Map<string, TtlCache<unknown>>>();
export function cacheFor<V>(owner: object, name: string, ttlMs: number): TtlCache<V> {
  let byName = caches.get(owner);
  if (!byName) caches.set(owner, (byName = new Map()));
  let cache = byName.get(name);
  if (!cache) byName.set(name, (cache = new TtlCache<unknown>(ttlMs)));
  return cache as TtlCache<V>;
}
