// The jco recipe end to end: transpiles the built component, starts the Zoho sandbox
// (`zoho-host sandbox`) on a free port, and runs actions through `node run.mjs` (a process per
// step, so every step is also a host restart) with exact results. Also checks the reference
// key-value store's contract directly. Exits non-zero on the first failure.
//
//   ZOHO_HOST=path/to/zoho-host ZOHO_COMPONENT=path/to/zoho_connector.wasm node test.mjs

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..', '..');
const zohoHost = process.env.ZOHO_HOST ?? path.join(root, 'target', 'native', 'zoho-host');
const component = process.env.ZOHO_COMPONENT ?? path.join(root, 'target', 'wasm32-wasip2', 'release', 'zoho_connector.wasm');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zoho-jco-test-'));
const out = path.join(work, 'out');
const store = path.join(work, 'kv', 'kv.json');
const namespace = 'tenant-jco-test';
const BOOKS_ORG_ID = '10234695'; // zoho_sandbox::BOOKS_ORG_ID

const cleanups = [];
let failed = false;

async function check(name, body) {
  try {
    await body();
    process.stdout.write(`ok   ${name}\n`);
  } catch (e) {
    failed = true;
    process.stdout.write(`FAIL ${name}\n${e?.stack ?? e}\n`);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** `zoho-host sandbox --port P`; resolves to the connection it prints. */
async function startSandbox() {
  const port = await freePort();
  const child = spawn(zohoHost, ['sandbox', '--port', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => child.kill());
  let text = '';
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`zoho-host sandbox exited with ${code}`)));
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const line = text.split('\n').find((l) => l.startsWith('connection: ') && text.includes(`${l}\n`));
      if (line) resolve(JSON.parse(line.slice('connection: '.length)));
    });
  });
}

/** A pass-through proxy to the sandbox in this very process: it can only answer while this
 * thread's event loop runs, so every step that succeeds through it proves run.mjs does not
 * block the event loop of the process that embeds it. It also counts the requests. */
function startProxy(target) {
  const upstream = new URL(target);
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', (e) => res.destroy(e));
    req.pipe(forward);
  });
  cleanups.push(() => server.close());
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, seen })));
}

/** `node run.mjs key ...` as a child process: {code, ok | err | stderr}. */
function run(key, connection, input, extra = []) {
  const args = [path.join(here, 'run.mjs'), key, '--connection', JSON.stringify(connection), '--input', JSON.stringify(input), '--store', store, '--namespace', namespace, '--out', out, ...extra];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += c; });
  child.stderr.on('data', (c) => { stderr += c; });
  return new Promise((resolve) => {
    child.on('close', (code) => {
      if (code === 0) resolve({ code, ok: JSON.parse(stdout) });
      else if (code === 1) resolve({ code, err: JSON.parse(stderr), stdout });
      else resolve({ code, stderr, stdout });
    });
  });
}

function okOf(outcome) {
  assert.equal(outcome.code, 0, `expected success, got ${JSON.stringify(outcome)}`);
  return outcome.ok;
}

async function main() {
  for (const [what, file] of [['zoho-host', zohoHost], ['the built component', component]]) {
    if (!fs.existsSync(file)) throw new Error(`${what} is missing at ${file}: build it first (see the README)`);
  }
  const jco = path.join(here, 'node_modules', '.bin', 'jco');
  execFileSync(jco, ['transpile', component, '-o', out, '--instantiation', 'async', '--no-typescript', '--quiet'], { stdio: 'inherit' });

  const sandbox = await startSandbox();
  const proxy = await startProxy(sandbox['api-domain']);
  const connection = { 'access-token': sandbox['access-token'], 'api-domain': proxy.url };

  await check('crm-get-records: the sandbox\'s newest leads, exact ids and info', async () => {
    const before = proxy.seen.length;
    const ok = okOf(await run('crm-get-records', connection, { 'record-type': 'Leads', 'per-page': 2, fields: 'Last_Name,Company' }));
    assert.deepEqual(ok.data, [
      { Company: 'Zylker', Last_Name: 'Lead3', id: '5725767000000524159' },
      { Company: 'Zylker', Last_Name: 'Lead2', id: '5725767000000524158' },
    ]);
    assert.equal(ok.info.count, 2);
    assert.equal(ok.info.page, 1);
    assert.equal(ok.info.per_page, 2);
    assert.equal(ok.info.more_records, true);
    assert.deepEqual(proxy.seen.slice(before), ['GET /crm/v8/Leads?fields=id%2CLast_Name%2CCompany&per_page=2&page=1']);
  });

  let created = null;
  await check('crm-create-record: values given as a JSON object, the new id read back', async () => {
    const ok = okOf(await run('crm-create-record', connection, { 'record-type': 'Leads', values: { Last_Name: 'Jco', Company: 'Node Ltd' }, trigger: [] }));
    assert.equal(ok.code, 'SUCCESS');
    assert.equal(ok.status, 'success');
    assert.equal(ok.message, 'record added');
    assert.equal(ok.details.id, '5725767000000526797', 'the fresh sandbox\'s first new id');
    created = ok.details.id;
    const record = okOf(await run('crm-get-record', connection, { 'record-type': 'Leads', 'record-id': created, fields: 'Last_Name,Company' }));
    assert.deepEqual(record, { Company: 'Node Ltd', Last_Name: 'Jco', id: created });
  });

  await check('books-get-records: the organization from the connection, exact contacts', async () => {
    const before = proxy.seen.length;
    const ok = okOf(await run('books-get-records', { ...connection, 'books-organization-id': BOOKS_ORG_ID }, { 'record-type': 'contacts', 'per-page': 2 }));
    assert.deepEqual(ok.contacts.map((c) => c.contact_id), ['460000000000001', '460000000000002']);
    assert.equal(ok.page_context.page, 1);
    assert.equal(ok.page_context.per_page, 2);
    assert.equal(ok.page_context.has_more_page, true);
    assert.deepEqual(proxy.seen.slice(before), [`GET /books/v3/contacts?organization_id=${BOOKS_ORG_ID}&page=1&per_page=2`]);
  });

  await check('incremental-list-contacts-by-page: page 2 continues page 1\'s sweep from the store file', async () => {
    const input = (page) => ({ page, 'per-page': 2, fields: 'Last_Name' });
    const first = okOf(await run('incremental-list-contacts-by-page', connection, input(1)));
    assert.deepEqual(first.records.map((r) => [r.id, r.Last_Name]), [['5725767000000524160', 'Number0001'], ['5725767000000524161', 'Number0002']]);
    assert.equal(first.page, 1);
    assert.equal(first.per_page, 2);
    assert.equal(first.more_records, true);
    assert.equal(first.next_page, 2);
    const second = okOf(await run('incremental-list-contacts-by-page', connection, input(2)));
    assert.deepEqual(second.records.map((r) => [r.id, r.Last_Name]), [['5725767000000524162', 'Number0003'], ['5725767000000524163', 'Number0004']]);
    assert.equal(second.page, 2);
    assert.equal(second.more_records, true);
    assert.equal(second.next_page, 3);
    assert.equal(second.sweep.id, first.sweep.id, 'the same sweep, read back from the store');
    assert.equal(second.sweep.until, first.sweep.until);
  });

  await check('a zoho-error is printed as zoho-host prints it, exit 1', async () => {
    const outcome = await run('crm-get-record', connection, { 'record-type': 'Leads', 'record-id': 'not-a-number' });
    assert.equal(outcome.code, 1);
    assert.equal(outcome.stdout, '');
    assert.equal(outcome.err.kind, 'invalid-input');
    assert.ok(outcome.err.message.startsWith('record-id "not-a-number" is not a Zoho record id'), outcome.err.message);
    assert.deepEqual(Object.keys(outcome.err).sort(), ['code', 'details', 'kind', 'message', 'retry-after-ms', 'status']);
  });

  await check('an unknown input field is refused before the component runs, exit 2', async () => {
    const before = proxy.seen.length;
    const outcome = await run('crm-get-records', connection, { 'record-type': 'Leads', recordType: 'Leads' });
    assert.equal(outcome.code, 2);
    assert.match(outcome.stderr, /input: unknown field "recordType"/);
    assert.equal(proxy.seen.length, before);
  });

  await check('--allow-origin: a request to any other origin is refused by the host', async () => {
    const before = proxy.seen.length;
    const outcome = await run('crm-get-records', connection, { 'record-type': 'Leads' }, ['--allow-origin', 'https://www.zohoapis.com']);
    assert.equal(outcome.code, 1);
    assert.equal(outcome.err.kind, 'transport');
    assert.match(outcome.err.message, /not one of the connection's allowed Zoho hosts/);
    assert.equal(proxy.seen.length, before, 'nothing was sent');
    okOf(await run('crm-get-records', connection, { 'record-type': 'Leads', 'per-page': 1 }, ['--allow-origin', proxy.url]));
  });

  await check('timeout-ms holds under the shim: a server that never answers is a timeout error', async () => {
    const silent = net.createServer(() => {}); // accepts, never answers
    cleanups.push(() => silent.close());
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const outcome = await run('crm-get-records', { ...connection, 'api-domain': `http://127.0.0.1:${silent.address().port}` }, { 'record-type': 'Leads' }, ['--options', '{"timeout-ms": 300}']);
    assert.equal(outcome.code, 1, JSON.stringify(outcome));
    assert.equal(outcome.err.kind, 'timeout');
  });

  await check('--deadline-ms ends a step the shim keeps blocked (exit 2), whatever timeout-ms says', async () => {
    const silent = net.createServer(() => {});
    cleanups.push(() => silent.close());
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const outcome = await run('crm-get-records', { ...connection, 'api-domain': `http://127.0.0.1:${silent.address().port}` }, { 'record-type': 'Leads' }, ['--options', '{"timeout-ms": 600000}', '--deadline-ms', '1000']);
    assert.equal(outcome.code, 2, JSON.stringify(outcome));
    assert.match(outcome.stderr, /the step ran past its deadline of 1000 ms/);
  });

  await check('bytes both ways: a {"base64"} file attached, downloaded back as {"base64"}', async () => {
    const lead = { 'record-type': 'Leads', 'record-id': '5725767000000524158' };
    const added = okOf(await run('crm-add-attachment', connection, { ...lead, file: { base64: 'AP8KgA==' }, 'file-name': 'bytes.bin' }));
    assert.equal(added.code, 'SUCCESS');
    const file = okOf(await run('crm-download-attachment', connection, { ...lead, 'attachment-id': added.details.id }));
    assert.deepEqual(file, { 'file-name': 'bytes.bin', 'content-type': 'application/octet-stream', content: { base64: 'AP8KgA==' } });
  });

  await check('the counters the component wrote are decimal text in the store file', async () => {
    const data = JSON.parse(fs.readFileSync(store, 'utf8'));
    const bucket = data.namespaces[namespace][''];
    const counters = Object.entries(bucket).filter(([key]) => key.startsWith('limits/credits/'));
    assert.ok(counters.length > 0, `no credit counter among ${Object.keys(bucket)}`);
    for (const [, value] of counters) assert.match(Buffer.from(value, 'base64').toString('latin1'), /^[1-9][0-9]*$/);
    assert.equal(fs.statSync(store).mode & 0o777, 0o600, 'the store holds tokens: private to its user');
  });

  await checkStoreContract();
}

/** The reference store against the contract the component relies on, called as jco calls it. */
async function checkStoreContract() {
  const kv = await import('./keyvalue.js');
  const file = path.join(work, 'contract', 'kv.json');
  await check('keyvalue.js: no file configured is no-such-store', () => {
    kv.configure({ file: null, namespace: 'a' });
    assert.throws(() => kv.store.open(''), (e) => e.tag === 'no-such-store');
  });
  await check('keyvalue.js: values, exists, delete, namespaces apart, any key text', () => {
    kv.configure({ file, namespace: 'a' });
    const a = kv.store.open('');
    kv.configure({ file, namespace: 'b' });
    const b = kv.store.open('');
    for (const key of ['token', '__proto__', 'toString', 'constructor', 'ключ/🙂', '']) {
      assert.equal(a.get(key), undefined);
      assert.equal(a.exists(key), false);
      a.set(key, new Uint8Array([0, 255, 10]));
      assert.deepEqual(a.get(key), new Uint8Array([0, 255, 10]));
      assert.equal(a.exists(key), true);
      assert.equal(b.get(key), undefined, 'another namespace sees nothing');
      a.delete(key);
      assert.equal(a.get(key), undefined);
    }
    a.delete('never-set');
    assert.throws(() => kv.store.open('x'.repeat(129)), (e) => e.tag === 'other');
  });
  await check('keyvalue.js: increment is decimal text read back by get, absent is 0, overflow and non-counters refused', () => {
    kv.configure({ file, namespace: 'c' });
    const bucket = kv.store.open('');
    assert.equal(kv.atomics.increment(bucket, 'n', 1n), 1n);
    assert.equal(kv.atomics.increment(bucket, 'n', 41n), 42n);
    assert.equal(Buffer.from(bucket.get('n')).toString(), '42');
    bucket.set('max', Buffer.from('18446744073709551615'));
    assert.equal(kv.atomics.increment(bucket, 'max', 0n), 18446744073709551615n);
    assert.throws(() => kv.atomics.increment(bucket, 'max', 1n), (e) => e.tag === 'other' && /overflows/.test(e.val));
    bucket.set('text', Buffer.from('{"a":1}'));
    assert.throws(() => kv.atomics.increment(bucket, 'text', 1n), (e) => e.tag === 'other' && /does not hold a counter/.test(e.val));
  });
  await check('keyvalue.js: increments from several processes at once lose nothing', async () => {
    kv.configure({ file, namespace: 'd' });
    const script = `const kv = await import(${JSON.stringify(path.join(here, 'keyvalue.js'))});
      kv.configure({ file: ${JSON.stringify(file)}, namespace: 'd' });
      const b = kv.store.open('');
      for (let i = 0; i < 50; i++) kv.atomics.increment(b, 'shared', 1n);`;
    await Promise.all([0, 1, 2, 3].map(() => new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`a writer exited with ${code}`))));
    })));
    assert.equal(Buffer.from(kv.store.open('').get('shared')).toString(), '200');
  });
  await check('keyvalue.js: list-keys pages sorted keys with a cursor; batch calls', () => {
    kv.configure({ file, namespace: 'e' });
    const bucket = kv.store.open('');
    const keys = Array.from({ length: 1001 }, (_, i) => `k${String(i).padStart(4, '0')}`);
    kv.batch.setMany(bucket, keys.map((k) => [k, Buffer.from(k)]));
    const first = bucket.listKeys(undefined);
    assert.equal(first.keys.length, 1000);
    assert.deepEqual(first.keys, keys.slice(0, 1000));
    assert.equal(first.cursor, 1000n);
    const second = bucket.listKeys(first.cursor);
    assert.deepEqual(second, { keys: ['k1000'], cursor: undefined });
    assert.deepEqual(bucket.listKeys(5000n), { keys: [], cursor: undefined });
    assert.deepEqual(kv.batch.getMany(bucket, ['k0001', 'none']), [['k0001', new Uint8Array(Buffer.from('k0001'))], undefined]);
    kv.batch.deleteMany(bucket, keys);
    assert.deepEqual(bucket.listKeys(undefined), { keys: [], cursor: undefined });
  });
}

try {
  await main();
} catch (e) {
  failed = true;
  process.stdout.write(`FAIL setup\n${e?.stack ?? e}\n`);
} finally {
  for (const cleanup of cleanups.reverse()) {
    try { cleanup(); } catch { /* best effort */ }
  }
  fs.rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
