/**
 * The `day` bench's picture (pure): one panel per preset (rows) and configuration (columns) over the compressed day,
 * with the desired and eligible counts, each request (grey tick: a hit; red: a miss) and marks such as the rollout.
 */

export type Point = { x: number; y: number };
export type Panel = { desired: Point[]; eligible: Point[]; hits: number[]; misses: number[]; marks: { x: number; label: string }[] };
/** x in hours of the day, from `xMin` to `xMax`. */
export type Picture = { title: string; subtitle: string; columns: string[]; rows: string[]; panels: Panel[][]; xMin: number; xMax: number };

const W = 420;
const H = 120;
const PAD = { left: 96, top: 80, gap: 28, axis: 22 };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const n = (x: number) => (Math.round(x * 10) / 10).toString();

/** A step line (each value holds until the next point), as an SVG path. */
function stepPath(points: readonly Point[], sx: (x: number) => number, sy: (y: number) => number, xMax: number): string {
  if (points.length === 0) return '';
  const parts = [`M${n(sx(points[0]!.x))},${n(sy(points[0]!.y))}`];
  for (let i = 1; i < points.length; i++) parts.push(`H${n(sx(points[i]!.x))}V${n(sy(points[i]!.y))}`);
  parts.push(`H${n(sx(xMax))}`);
  return parts.join('');
}

function panel(p: Panel, x0: number, y0: number, xMin: number, xMax: number, yMax: number): string {
  const plotH = H - 16;
  const sx = (x: number) => x0 + ((Math.min(Math.max(x, xMin), xMax) - xMin) / (xMax - xMin)) * W;
  const sy = (y: number) => y0 + plotH - (y / yMax) * (plotH - 6);
  const out = [`<rect x="${x0}" y="${y0}" width="${W}" height="${H}" class="frame"/>`];
  for (let h = xMin; h <= xMax; h += 2) out.push(`<line x1="${n(sx(h))}" x2="${n(sx(h))}" y1="${y0}" y2="${y0 + H}" class="grid"/>`);
  for (const m of p.marks) out.push(`<line x1="${n(sx(m.x))}" x2="${n(sx(m.x))}" y1="${y0}" y2="${y0 + H}" class="mark"/><text x="${n(sx(m.x) + 3)}" y="${y0 + 11}" class="small">${esc(m.label)}</text>`);
  out.push(`<path d="${stepPath(p.desired, sx, sy, xMax)}" class="desired"/>`, `<path d="${stepPath(p.eligible, sx, sy, xMax)}" class="eligible"/>`);
  for (const x of p.hits) out.push(`<line x1="${n(sx(x))}" x2="${n(sx(x))}" y1="${y0 + H - 8}" y2="${y0 + H}" class="hit"/>`);
  for (const x of p.misses) out.push(`<line x1="${n(sx(x))}" x2="${n(sx(x))}" y1="${y0 + H - 14}" y2="${y0 + H}" class="miss"/>`);
  out.push(`<text x="${x0 - 4}" y="${n(sy(yMax) + 4)}" class="small" text-anchor="end">${yMax}</text>`, `<text x="${x0 - 4}" y="${n(sy(0))}" class="small" text-anchor="end">0</text>`);
  return out.join('');
}

export function renderDaySvg(pic: Picture): string {
  const width = PAD.left + pic.columns.length * (W + PAD.gap);
  const height = PAD.top + pic.rows.length * (H + PAD.gap) + PAD.axis;
  // One y scale per row, so both configurations of a preset compare at a glance.
  const yMaxOf = (row: Panel[]) => Math.max(1, ...row.flatMap((p) => [...p.desired, ...p.eligible].map((q) => q.y)));
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    '<style>.frame{fill:#fff;stroke:#bbb}.grid{stroke:#eee}.mark{stroke:#7b3fa0;stroke-dasharray:3 2}.desired{fill:none;stroke:#1f5fbf;stroke-width:1.5;stroke-dasharray:5 3}.eligible{fill:none;stroke:#2e8b3e;stroke-width:1.5}.hit{stroke:#888}.miss{stroke:#d62728;stroke-width:2}.small{font-size:10px;fill:#444}.title{font-size:14px;font-weight:600}</style>',
    `<rect width="${width}" height="${height}" fill="#fafafa"/>`,
    `<text x="8" y="18" class="title">${esc(pic.title)}</text>`,
    `<text x="8" y="34" class="small">${esc(pic.subtitle)}</text>`,
    `<text x="8" y="50" class="small"><tspan fill="#1f5fbf">- - desired</tspan>   <tspan fill="#2e8b3e">── eligible</tspan>   <tspan fill="#888">| request served from the pool</tspan>   <tspan fill="#d62728">| miss</tspan>   <tspan fill="#7b3fa0">┆ rollout</tspan></text>`,
  ];
  pic.columns.forEach((c, j) => out.push(`<text x="${PAD.left + j * (W + PAD.gap) + W / 2}" y="${PAD.top - 4}" text-anchor="middle" class="title">${esc(c)}</text>`));
  pic.rows.forEach((r, i) => {
    const y0 = PAD.top + i * (H + PAD.gap);
    out.push(`<text x="8" y="${y0 + H / 2}" class="title">${esc(r)}</text>`);
    const yMax = yMaxOf(pic.panels[i]!);
    pic.columns.forEach((_, j) => out.push(panel(pic.panels[i]![j]!, PAD.left + j * (W + PAD.gap), y0, pic.xMin, pic.xMax, yMax)));
  });
  const axisY = PAD.top + pic.rows.length * (H + PAD.gap) - PAD.gap + 14;
  pic.columns.forEach((_, j) => {
    for (let h = pic.xMin; h <= pic.xMax; h += 2) out.push(`<text x="${n(PAD.left + j * (W + PAD.gap) + ((h - pic.xMin) / (pic.xMax - pic.xMin)) * W)}" y="${axisY}" text-anchor="middle" class="small">${h}:00</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
