import { notificationEventKey, type NotificationEvent } from '@warmpool/bus';
import type { NotificationContext, NotificationLink, RenderedMessage } from '@warmpool/db';

/**
 * Every notification text lives here: change wording in this file only. Titles and bodies must not contain
 * per-delivery values (timestamps, ids of the event itself), or the once-per-UTC-day deduplication of
 * identical messages would never match.
 */

export function presetStatusUrl(publicUrl: string, presetId: string): string {
  return `${trimSlash(publicUrl)}/api/v1/presets/${presetId}/status`;
}

export function workspaceUrl(publicUrl: string, workspaceId: string): string {
  return `${trimSlash(publicUrl)}/api/v1/workspaces/${workspaceId}`;
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/** `template/version/preset`, the name admins know a pool by. */
const poolName = (c: NotificationContext) => `${c.organizationName}/${c.templateName}@${c.versionName} preset "${c.presetName}"`;

function baseLabels(c: NotificationContext): Record<string, string> {
  return { organization: c.organizationName, template: c.templateName, version: c.versionName, preset: c.presetName };
}

/** One line per replaced resource: `address: attr1, attr2`, sorted so identical replacements render identically. */
export function describeReplacements(replacements: Record<string, string[]>): string[] {
  return Object.keys(replacements)
    .sort()
    .map((address) => `${address}: ${[...(replacements[address] ?? [])].sort().join(', ')}`);
}

export function renderMessage(event: NotificationEvent, context: NotificationContext, publicUrl: string): RenderedMessage {
  const status: NotificationLink = { label: 'Preset status', url: presetStatusUrl(publicUrl, event.presetId) };
  switch (event.type) {
    case 'preset-hard-limited':
      return {
        kind: event.type,
        title: `Prebuilds stopped: ${poolName(context)} reached its failure limit`,
        body: [
          `Prebuilds of ${poolName(context)} failed ${event.failures} time(s) in a row, so Warmpool stopped creating them.`,
          event.lastError ? `Last error: ${event.lastError}` : 'No error message was reported.',
          'Fix the template (or the infrastructure it needs), then resume the preset; a new template version starts fresh.',
        ].join('\n'),
        labels: baseLabels(context),
        links: [status],
      };
    case 'preset-validation-failed':
      return {
        kind: event.type,
        title: `Prebuilds stopped: ${poolName(context)} cannot be built`,
        body: [
          `A prebuild request for ${poolName(context)} can never succeed, so Warmpool stopped creating prebuilds.`,
          `Error: ${event.error}`,
          'Correct the preset or template (for example a missing required parameter) and publish a new version, or resume the preset.',
        ].join('\n'),
        labels: baseLabels(context),
        links: [status],
      };
    case 'rollout-stopped': {
      const version = `${context.organizationName}/${context.templateName}@${context.versionName}`;
      const why = { deadline: 'it was not warm by its deadline', failure_limit: 'a staged preset reached its failure limit', validation_failed: 'a staged preset cannot be built' }[event.reason];
      return {
        kind: event.type,
        title: `Rollout stopped: ${version} was not promoted because ${why}`,
        body: [
          `The staged rollout of ${version} stopped: ${event.detail}.`,
          'The active version keeps serving claims and its pools are untouched; the staged prebuilds are being deleted.',
          'Fix the version (or what its builds need) and start a new rollout, or activate it at once if misses are acceptable.',
        ].join('\n'),
        labels: { ...baseLabels(context), reason: event.reason },
        links: [status],
      };
    }
    case 'resource-replacements': {
      const lines = describeReplacements(event.replacements);
      const attributes = [...new Set(Object.values(event.replacements).flat())].sort();
      const workspace = context.workspaceName ?? event.workspaceId;
      const claimant = context.claimantUsername ?? event.claimantId;
      return {
        kind: event.type,
        title: `Claiming a prebuild of ${poolName(context)} replaced ${lines.length} resource(s)`,
        body: [
          `When ${claimant} claimed workspace ${workspace} (build #${event.buildNumber}), these resources were replaced instead of reused:`,
          ...lines.map((l) => `  - ${l}`),
          'A replacement throws away the warm resource and makes the claim slow.',
          `To prevent it, make the template stop changing these attributes on claim, or ignore them with \`lifecycle { ignore_changes = [${attributes.join(', ')}] }\` on the resources above.`,
        ].join('\n'),
        labels: {
          ...baseLabels(context),
          workspace,
          build_number: String(event.buildNumber),
          claimant,
          replaced_resources: lines.join('; '),
        },
        links: [status, { label: 'Workspace', url: workspaceUrl(publicUrl, event.workspaceId) }],
      };
    }
  }
}

/** Identifies the event itself (stable across redelivery): one processing per transition or claim build. */
export const eventKey = notificationEventKey;

/** The closing line of every e-mail: why the recipient gets it and how to stop this kind. */
export function emailFooter(kind: string): string {
  return [
    'You receive this because you administer templates or the Warmpool site.',
    `To stop e-mails of this kind: warmpool notifications set ${kind} email off (or PUT /api/v1/users/me/notification-preferences).`,
  ].join('\n');
}
