import { loadOrganizationClaimTarget, type Principal } from '@warmpool/db';
import { claimTargetKey } from '@warmpool/operations';
import type { ApiDeps } from '../deps.js';
import { seesOrganization } from '../authz.js';
import { cacheFor } from '../cache.js';
import { notFound } from '../errors.js';
import { claimTargetCache } from './common.js';

/**
 * The organization of a create, by name and visible to the principal (others answer 404), as `findOrganization`
 * answers it, from the same cache. When the replica has not cached the organization, one statement reads it together
 * with the template's claim target, which goes into the claim-target cache the create reads next: a create on cold
 * caches pays one round trip for both lookups (issue 14). The target is cached before the visibility check; only a
 * create that passed it ever uses it.
 */
export async function findOrganizationForCreate(deps: ApiDeps, principal: Principal, name: string, templateId: string): Promise<string> {
  const id = await cacheFor<string>(deps.pool, 'organizations', deps.config.apiCacheMs).get(name, async () => {
    const found = await loadOrganizationClaimTarget(deps.pool, name, templateId);
    const target = found?.target;
    if (found && target) {
      await claimTargetCache(deps).get(claimTargetKey(found.organizationId, templateId), () => Promise.resolve(target));
    }
    return found?.organizationId;
  });
  if (!id || !seesOrganization(principal, id)) throw notFound('organization');
  return id;
}
