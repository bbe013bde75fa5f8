import { loadOrganizationClaimTarget, type Principal } from '@warmpool/db';
import { claimTargetKey } from '@warmpool/operations';
import type { ApiDeps } from '../deps.js';
import { claimTargetCache, findOrganization } from './common.js';

/**
 * The organization of a create, as `findOrganization` answers it (same cache, same 404). When the replica has not
 * cached the organization, one statement reads it together with the template's claim target, which goes into the
 * claim-target cache the create reads next: a create on cold caches pays one round trip for both lookups (issue 14).
 * The target is cached before the visibility check; only a create that passed it ever uses it.
 */
export async function findOrganizationForCreate(deps: ApiDeps, principal: Principal, name: string, templateId: string): Promise<string> {
  return findOrganization(deps, principal, name, async () => {
    const found = await loadOrganizationClaimTarget(deps.pool, name, templateId);
    const target = found?.target;
    if (found && target) await claimTargetCache(deps).get(claimTargetKey(found.organizationId, templateId), () => Promise.resolve(target));
    return found?.organizationId;
  });
}
