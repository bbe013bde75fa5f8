/**
 * The claim load generator, run as its own process by claim.ts (so it does not share the API's CPU time slices or
 * event loop): autocannon with `connections` concurrent claimers, each request a claim under a unique name.
 * Arguments: url token templateId presetId connections amount prefix. Prints autocannon's result as JSON.
 * With token `-`, plain GETs of `url` instead (the trivial-route baseline under the same load).
 */
import autocannon from 'autocannon';

const [url, token, templateId, presetId, connections, amount, prefix] = process.argv.slice(2);
let seq = 0;
const claim = {
  method: 'POST' as const,
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, body: JSON.stringify({ template_id: templateId, preset_id: presetId, name: `${prefix}-${seq++}` }) }) }],
};
const result = await autocannon({ url: url!, connections: Number(connections), amount: Number(amount), ...(token === '-' ? {} : claim) });
console.log(JSON.stringify({ p50: result.latency.p50, p99: result.latency.p99, rps: result.requests.average, non2xx: result.non2xx, errors: result.errors, total: result.requests.total }));
