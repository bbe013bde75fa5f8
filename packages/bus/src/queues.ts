/**
 * Queue prefix wrapped in a Redis Cluster hash tag so every key of every queue lands in one slot.
 * Tests and benchmarks pass their own prefix so runs never see each other's jobs.
 */
export function queuePrefix(name = 'warmpool'): string {
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(name)) throw new Error(`invalid queue prefix ${JSON.stringify(name)}`);
  return `{${name}}`;
}
