import { useState } from 'preact/hooks';
import { get, HttpError, type PresetStatus, type Scope } from './api.js';
import { hitRateOf, presetPath, shortTime, statusOf } from './format.js';
import { usePoll } from './hooks.js';
import { ErrorNote, Link } from './ui.js';

const POLL_MS = 3000;

type OrgResult = { org: string; presets: PresetStatus[] } | { org: string; error: HttpError };

/** Hit rate over 24 h from the demand history (hits and misses); "—" when nobody asked for a workspace. */
function HitRate(props: { status: PresetStatus }) {
  const rate = hitRateOf(props.status);
  return (
    <span class={props.status.hitRate24h === null ? 'muted' : undefined} title={rate.detail}>
      {rate.text}
      <span class="sr-only"> ({rate.detail})</span>
    </span>
  );
}

type Filters = { org: string; template: string };

function readFilters(): Filters {
  const q = new URLSearchParams(location.search);
  return { org: q.get('org') ?? '', template: q.get('template') ?? '' };
}

/** The filters, kept in the address so a filtered view can be shared and survives a reload. */
function useFilters(): [Filters, (next: Filters) => void] {
  const [filters, setFilters] = useState(readFilters);
  const setFilter = (next: Filters) => {
    setFilters(next);
    const q = new URLSearchParams();
    if (next.org) q.set('org', next.org);
    if (next.template) q.set('template', next.template);
    history.replaceState(null, '', `/console/${q.toString() ? `?${q.toString()}` : ''}`);
  };
  return [filters, setFilter];
}

/** Every organization's presets, polled; an organization that refuses (403, 404) is reported, not fatal. */
function usePools(orgNames: string[]) {
  return usePoll<OrgResult[]>(
    () =>
      Promise.all(
        orgNames.map((org) =>
          get<PresetStatus[]>(`/organizations/${encodeURIComponent(org)}/presets`).then(
            (presets) => ({ org, presets }),
            (error: unknown) => {
              if (error instanceof HttpError && error.status !== 401) return { org, error };
              throw error;
            },
          ),
        ),
      ),
    POLL_MS,
    orgNames.join(','),
  );
}

function FilterForm(props: { scope: Scope; templates: string[]; filters: Filters; onChange: (next: Filters) => void }) {
  const { scope, templates, filters, onChange } = props;
  return (
    <form class="filters" onSubmit={(e) => e.preventDefault()}>
      <label>
        Organization
        <select value={filters.org} onChange={(e) => onChange({ org: e.currentTarget.value, template: '' })}>
          <option value="">All ({scope.organizations.length})</option>
          {scope.organizations.map((o) => (
            <option key={o.id} value={o.name}>
              {o.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Template
        <select value={filters.template} onChange={(e) => onChange({ ...filters, template: e.currentTarget.value })}>
          <option value="">All</option>
          {templates.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </label>
    </form>
  );
}

function PoolRow(props: { preset: PresetStatus }) {
  const p = props.preset;
  const s = statusOf(p);
  return (
    <tr data-preset={`${p.template}/${p.preset}`}>
      <th scope="row" data-label="Preset">
        <Link href={presetPath(p.presetId)}>
          {p.template}/{p.preset}
        </Link>
        <span class="sub">
          {p.organization} · {p.version}
        </span>
      </th>
      <td class="num" data-label="Desired now">{p.desiredNow}</td>
      <td class="num" data-label="Running">{p.running}</td>
      <td class="num" data-label="Eligible" data-col="eligible">{p.eligible}</td>
      <td class="num" data-label="Starting">{p.starting}</td>
      <td class="num" data-label="Failed">{p.failed}</td>
      <td data-label="Status" data-col="status">
        <span class={`badge badge-${s.tone}`} title={s.detail}>
          {s.label}
        </span>
      </td>
      <td class="num" data-label="Hit rate 24 h" data-col="hit-rate">
        <HitRate status={p} />
      </td>
      <td data-label="Next change">{p.nextScheduleChange ? `${p.nextScheduleChange.instances} at ${shortTime(p.nextScheduleChange.at)}` : <span class="muted">none</span>}</td>
    </tr>
  );
}

function PoolsTable(props: { rows: PresetStatus[] }) {
  return (
    <table class="pools" data-testid="pools">
      <caption class="sr-only">Every active preset and its pool</caption>
      <thead>
        <tr>
          <th scope="col">Preset</th>
          <th scope="col" class="num">Desired now</th>
          <th scope="col" class="num">Running</th>
          <th scope="col" class="num">Eligible</th>
          <th scope="col" class="num">Starting</th>
          <th scope="col" class="num">Failed</th>
          <th scope="col">Status</th>
          <th scope="col" class="num">Hit rate 24 h</th>
          <th scope="col">Next schedule change</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((p) => (
          <PoolRow key={p.presetId} preset={p} />
        ))}
      </tbody>
    </table>
  );
}

export function Overview(props: { scope: Scope }) {
  const { scope } = props;
  const [filters, setFilter] = useFilters();
  const loaded = usePools(scope.organizations.filter((o) => !filters.org || o.name === filters.org).map((o) => o.name));
  const results = loaded.data ?? [];
  const all = results.flatMap((r) => ('presets' in r ? r.presets : []));
  const refused = results.filter((r): r is { org: string; error: HttpError } => 'error' in r);
  const templates = [...new Set(all.map((p) => p.template))].sort();
  const rows = all.filter((p) => !filters.template || p.template === filters.template);

  return (
    <section aria-labelledby="overview-title">
      <div class="title-row">
        <h1 id="overview-title">Pools</h1>
        <p class="muted live" aria-live="polite">
          {loaded.updatedAt ? `Live · updated ${loaded.updatedAt.toLocaleTimeString()}` : 'Loading…'}
        </p>
      </div>
      <FilterForm scope={scope} templates={templates} filters={filters} onChange={setFilter} />
      {loaded.error && <ErrorNote error={loaded.error} what="the pools could not be refreshed" />}
      {refused.map((r) => (
        <ErrorNote key={r.org} error={r.error} what={`organization ${r.org}`} />
      ))}
      {scope.organizations.length === 0 && <p class="empty">You have no role in any organization yet. Ask an owner or organization admin to grant you one.</p>}
      {loaded.data && rows.length === 0 && refused.length < results.length && (
        <p class="empty">No active presets{filters.template ? ` of template ${filters.template}` : ''}. Import a template version with presets to start a pool.</p>
      )}
      {rows.length > 0 && <PoolsTable rows={rows} />}
      {rows.length > 0 && <p class="hint">Hit rate 24 h: the share of workspace requests of the last 24 hours that got a prebuild; — means no request was recorded.</p>}
    </section>
  );
}
