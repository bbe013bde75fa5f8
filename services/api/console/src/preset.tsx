import { useMemo } from 'preact/hooks';
import { get, post, type Build, type History, type PresetStatus, type PreviewPoint, type Replacement, type Scope } from './api.js';
import { chartSeries, PoolChart, type ChartSeries } from './chart.js';
import { fullTime, hitRateOf, shortTime, statusOf } from './format.js';
import { usePoll, type Loaded } from './hooks.js';
import { ConfirmButton, ErrorNote, Link, roleList } from './ui.js';

const DAY_MS = 86_400_000;
const sum = (hours: { count: number }[]) => hours.reduce((n, h) => n + h.count, 0);

type Detail = { status: PresetStatus; builds: Build[]; replacements: Replacement[] };
type Timeline = { preview: PreviewPoint[]; history: History; from: Date; to: Date };

function Actions(props: { scope: Scope; status: PresetStatus; onDone: () => void }) {
  const { scope, status } = props;
  const org = scope.organizations.find((o) => o.name === status.organization);
  const allowed = org?.actions.includes('prebuild.operate') ?? false;
  const name = `${status.template}/${status.preset}`;
  return (
    <section aria-labelledby="actions-title" class="panel">
      <h2 id="actions-title">Actions</h2>
      {!allowed && (
        <p class="note" data-testid="read-only">
          Read-only: resuming and invalidating need the {roleList(scope.rolesFor['prebuild.operate'])} role for {status.organization}.
        </p>
      )}
      <div class="buttons">
        <ConfirmButton
          label="Resume preset"
          title={`Resume ${name}?`}
          body="Failures before now stop counting: the preset leaves backoff or its failure limit and the pool is built again."
          confirmLabel="Resume"
          primary={status.status !== 'healthy' || status.backoffUntil !== null}
          disabled={!allowed}
          action={async () => {
            await post(`/presets/${status.presetId}/resume`);
            props.onDone();
          }}
        />
        <ConfirmButton
          label="Invalidate prebuilds"
          title={`Invalidate every prebuild of ${name}?`}
          body={`The ${status.running} current prebuild(s) count as expired and are replaced by fresh ones; claims wait for the new ones.`}
          confirmLabel="Invalidate"
          danger
          disabled={!allowed}
          action={async () => {
            await post(`/presets/${status.presetId}/invalidate`);
            props.onDone();
          }}
        />
      </div>
    </section>
  );
}

function Summary(props: { status: PresetStatus }) {
  const p = props.status;
  const s = statusOf(p);
  const rate = hitRateOf(p);
  const items: [string, string | number][] = [
    ['Desired now', p.desiredNow],
    ['Running', p.running],
    ['Eligible', p.eligible],
    ['Starting', p.starting],
    ['Expired', p.expired],
    ['Failed', p.failed],
    ['Hit rate 24 h', rate.text],
    ['Next change', p.nextScheduleChange ? `${p.nextScheduleChange.instances} at ${shortTime(p.nextScheduleChange.at)}` : 'none'],
  ];
  return (
    <>
      <p>
        <span class={`badge badge-${s.tone}`} data-testid="preset-status">
          {s.label}
        </span>{' '}
        {s.detail}
      </p>
      {p.scheduleError && (
        <p class="note note-warn" role="status">
          Schedule problem: {p.scheduleError} (the base count is used).
        </p>
      )}
      <dl class="stats">
        {items.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      <p class="hint" data-testid="hit-rate-detail">
        Hit rate 24 h: {rate.detail}
      </p>
    </>
  );
}

function Builds(props: { builds: Build[] }) {
  if (props.builds.length === 0) return <p class="empty">No builds yet.</p>;
  return (
    <table class="builds">
      <caption class="sr-only">Latest builds, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Started</th>
          <th scope="col">Workspace</th>
          <th scope="col">Build</th>
          <th scope="col">Status</th>
          <th scope="col">Readiness</th>
          <th scope="col">Error</th>
        </tr>
      </thead>
      <tbody>
        {props.builds.map((b) => (
          <tr key={b.id}>
            <td data-label="Started">{fullTime(b.createdAt)}</td>
            <td data-label="Workspace">{b.workspaceName ?? <span class="muted">another user's workspace</span>}</td>
            <td data-label="Build">
              #{b.buildNumber} {b.transition} ({b.reason})
            </td>
            <td data-label="Status">
              <span class={`badge badge-${b.status === 'failed' ? 'bad' : b.status === 'succeeded' ? 'ok' : 'muted'}`}>{b.status}</span>
            </td>
            <td data-label="Readiness">
              <Readiness build={b} />
            </td>
            <td data-label="Error" class="error-text">
              {b.error ?? ''}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Usable (agents ready, and for a claim its hook ran), or which agents are still starting. */
function Readiness(props: { build: Build }) {
  const b = props.build;
  if (b.usable) return <span class="badge badge-ok">usable</span>;
  const waiting = b.agents.filter((a) => !a.ready).map((a) => a.name);
  if (b.status === 'succeeded' && waiting.length > 0) return <span class="badge badge-muted">agent {waiting.join(', ')} starting</span>;
  return <span class="muted">—</span>;
}

function Replacements(props: { items: Replacement[] }) {
  if (props.items.length === 0) return <p class="empty">No claim has replaced resources of a prebuild.</p>;
  return (
    <ul class="notices">
      {props.items.map((r) => (
        <li key={r.buildId}>
          <strong>{fullTime(r.at)}</strong>: claiming {r.workspaceName ?? "another user's workspace"} (build #{r.buildNumber}{r.claimant ? `, by ${r.claimant}` : ''}) replaced{' '}
          {Object.entries(r.replacements)
            .map(([resource, attrs]) => `${resource} (${attrs.join(', ')})`)
            .join('; ')}
        </li>
      ))}
    </ul>
  );
}

export function PresetPage(props: { id: string; scope: Scope }) {
  const { id } = props;
  const detail = usePoll<Detail>(
    async () => {
      const [status, builds, replacements] = await Promise.all([
        get<PresetStatus>(`/presets/${id}/status`),
        get<Build[]>(`/presets/${id}/builds?limit=20`),
        get<Replacement[]>(`/presets/${id}/replacements?limit=20`),
      ]);
      return { status, builds, replacements };
    },
    3000,
    id,
  );
  // The chart changes slowly: the preview and history are reloaded every minute.
  const timeline = usePoll<Timeline>(
    async () => {
      const from = new Date();
      const to = new Date(from.getTime() + 7 * DAY_MS);
      const [preview, history] = await Promise.all([
        get<PreviewPoint[]>(`/presets/${id}/schedule-preview?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`),
        get<History>(`/presets/${id}/history?days=7`),
      ]);
      return { preview, history, from, to };
    },
    60_000,
    id,
  );
  const series = useMemo(() => (timeline.data ? chartSeries(timeline.data.preview, timeline.data.history, timeline.data.from, timeline.data.to) : undefined), [timeline.data]);
  const status = detail.data?.status;
  // A preset of another organization answers 404, one the role may not read 403: say so once, show nothing else.
  const refused = detail.error && (detail.error.status === 403 || detail.error.status === 404);
  const reload = () => {
    detail.reload();
    timeline.reload();
  };

  return (
    <article aria-labelledby="preset-title">
      <p class="crumbs">
        <Link href="/console/">← All pools</Link>
      </p>
      <h1 id="preset-title">{status ? `${status.template}/${status.preset}` : 'Preset'}</h1>
      {status && (
        <p class="muted">
          {status.organization} · version {status.version}
        </p>
      )}
      {detail.error && <ErrorNote error={detail.error} what="this preset" />}
      {!detail.data && !detail.error && <p class="loading">Loading…</p>}
      {status && <Summary status={status} />}
      {status && <Actions scope={props.scope} status={status} onDone={reload} />}
      {!refused && <PresetDetails timeline={timeline} series={series} detail={detail.data} />}
    </article>
  );
}

function PresetDetails(props: { timeline: Loaded<Timeline>; series: ChartSeries | undefined; detail: Detail | undefined }) {
  const { timeline, series, detail } = props;
  return (
    <>
      <section aria-labelledby="chart-section" class="panel">
        <h2 id="chart-section">Desired count, past and next 7 days</h2>
        {timeline.error && <ErrorNote error={timeline.error} what="the schedule" />}
        {series && <PoolChart series={series} title="Desired (schedule preview and recorded), eligible (recorded), hits and misses per hour" />}
        {timeline.data && timeline.data.history.samples.length === 0 && (
          <p class="hint">No pool history recorded yet: the api records desired and eligible counts every {timeline.data.history.sampleIntervalMs / 60_000} minutes.</p>
        )}
        {timeline.data && (
          <p class="hint" data-testid="demand-totals">
            Past 7 days: {sum(timeline.data.history.hits)} hit(s) (a prebuild was handed over) and {sum(timeline.data.history.misses)} miss(es) (built from scratch).
          </p>
        )}
        {timeline.data && (
          <details>
            <summary>Schedule preview as a table</summary>
            <table class="preview">
              <thead>
                <tr>
                  <th scope="col">From</th>
                  <th scope="col" class="num">Desired</th>
                </tr>
              </thead>
              <tbody>
                {timeline.data.preview.map((p) => (
                  <tr key={p.at}>
                    <td>{fullTime(p.at)}</td>
                    <td class="num">{p.instances}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        )}
      </section>
      <section aria-labelledby="builds-title" class="panel">
        <h2 id="builds-title">Latest builds</h2>
        {detail && <Builds builds={detail.builds} />}
      </section>
      <section aria-labelledby="replacements-title" class="panel">
        <h2 id="replacements-title">Replacement notices</h2>
        {detail && <Replacements items={detail.replacements} />}
      </section>
    </>
  );
}
