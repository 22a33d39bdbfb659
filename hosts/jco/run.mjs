#!/usr/bin/env node
// Runs one action of the Zoho connector, transpiled by jco, in a worker thread.
//
//   node run.mjs <action-key> --connection JSON|@file [--input JSON|@file] [--options JSON|@file]
//                [--namespace NS] [--store FILE] [--allow-origin URL]... [--deadline-ms N]
//
// Prints the Ok value as JSON on stdout (exit 0), or the zoho-error as JSON on stderr (exit 1),
// as `zoho-host run` does; a usage or host problem exits 2.
//
// The component runs in a worker thread because jco's preview2 shim blocks the thread that
// calls it (wasi:http and wasi:io are synchronous: the shim waits with Atomics.wait), so a call
// on the main thread would stop the event loop for as long as the step's HTTP exchanges last.
// Each step gets a fresh instance (the component keeps per-step state in its memory), compiled
// once per worker.
//
// As a library: `runAction(key, connection, input, options, settings)` returns a promise of
// {ok} or {err}; it starts a worker per call (reuse workers for throughput: see
// `stepInWorker` below).

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Where `npm run transpile` writes the component's JS. */
export const DEFAULT_OUT = process.env.ZOHO_JCO_OUT ?? path.join(here, 'out');
/** The manifest (action key → WIT interface and function, input schemas). */
export const DEFAULT_MANIFEST = process.env.ZOHO_MANIFEST ?? path.join(here, '..', '..', 'actions.json');
/** The reference key-value file, next to zoho-host's data by default. */
export const DEFAULT_STORE = process.env.ZOHO_JCO_STORE
  ?? path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'zoho-jco', 'kv.json');
/** A step that runs longer is stopped (its worker terminated), as zoho-host's step deadline. */
export const DEFAULT_DEADLINE_MS = 15 * 60 * 1000;

// ---------------------------------------------------------------------------------------------
// JSON (the manifest's kebab-case inputs) → the JS values jco's bindings take.
//
// jco maps a WIT record to an object with camelCase fields (record-type → recordType), an
// option to the value or undefined, a variant to {tag, val}, list<u8> to a Uint8Array, u32 to a
// number and u64 to a bigint; a result's Ok is returned and its Err thrown (a ComponentError
// whose `payload` is the zoho-error).

const camel = (name) => name.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
const kebab = (name) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

class InputError extends Error {}

function typesOf(schema) {
  if (Array.isArray(schema.type)) return schema.type;
  return schema.type ? [schema.type] : [];
}

/** One input value, converted as zoho-host's JSON→WIT conversion does. */
function convertValue(value, schema, where) {
  if (schema.oneOf) return fileContent(value, where);
  const types = typesOf(schema);
  if (types.includes('string')) {
    if (typeof value === 'string') return value;
    // A JSON object or array given for a text input is passed serialized.
    if (typeof value === 'object' || typeof value === 'number' || typeof value === 'boolean') return typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  if (types.includes('array')) {
    // A comma-separated string for a list of strings, as a form field gives it.
    if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (!Array.isArray(value)) throw new InputError(`${where}: expected an array, got ${JSON.stringify(value)}`);
    return value.map((item, i) => convertValue(item, schema.items ?? { type: 'string' }, `${where}[${i}]`));
  }
  if (types.includes('integer')) {
    const n = typeof value === 'string' && /^\s*[0-9]+\s*$/.test(value) ? Number(value.trim()) : value;
    // Every integer input is a u32 in the WIT.
    if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new InputError(`${where}: expected a whole number from 0 to 4294967295, got ${JSON.stringify(value)}`);
    return n;
  }
  if (types.includes('number')) {
    const n = typeof value === 'string' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw new InputError(`${where}: expected a number, got ${JSON.stringify(value)}`);
    return n;
  }
  if (types.includes('boolean')) {
    if (typeof value !== 'boolean') throw new InputError(`${where}: expected true or false, got ${JSON.stringify(value)}`);
    return value;
  }
  throw new InputError(`${where}: expected ${types.join(' or ')}, got ${JSON.stringify(value)}`);
}

/** The file-content variant: "text", {"text"}, {"base64"} or {"bytes": [0-255...]}. */
function fileContent(value, where) {
  if (typeof value === 'string') return { tag: 'text', val: value };
  const keys = value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : [];
  if (keys.length === 1) {
    const [tag] = keys;
    const val = value[tag];
    if ((tag === 'text' || tag === 'base64') && typeof val === 'string') return { tag, val };
    if (tag === 'bytes' && Array.isArray(val) && val.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) return { tag, val: Uint8Array.from(val) };
  }
  throw new InputError(`${where}: expected text, {"text": ...}, {"base64": ...} or {"bytes": [...]}, got ${JSON.stringify(value)}`);
}

/** A record input (connection, input, options): kebab-case keys checked against the schema. */
export function convertRecord(value, schema, where) {
  if (value === null || value === undefined) value = {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new InputError(`${where}: expected an object, got ${JSON.stringify(value)}`);
  const properties = schema.properties ?? {};
  const known = Object.keys(properties);
  const unknown = Object.keys(value).find((k) => !Object.hasOwn(properties, k));
  if (unknown !== undefined) throw new InputError(`${where}: unknown field ${JSON.stringify(unknown)}; expected one of ${known.join(', ')}`);
  const out = {};
  for (const key of known) {
    const given = Object.hasOwn(value, key) ? value[key] : null;
    if (given === null) {
      if ((schema.required ?? []).includes(key)) throw new InputError(`${where}.${key}: required`);
      continue;
    }
    out[camel(key)] = convertValue(given, properties[key], `${where}.${key}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The JS values jco returns → the JSON zoho-host prints.

const base64 = (bytes) => ({ base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') });

/** An Ok value: a JSON text is parsed; records (file, raw response) get kebab-case keys. */
export function okJson(value) {
  if (typeof value === 'string') {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  if (value && value.content instanceof Uint8Array) {
    return { 'file-name': value.fileName ?? null, 'content-type': value.contentType ?? null, content: base64(value.content) };
  }
  if (value && typeof value.status === 'number' && value.body && 'tag' in value.body) {
    const { tag, val } = value.body;
    return { status: value.status, headers: value.headers, body: { [tag]: val instanceof Uint8Array ? base64(val) : val } };
  }
  return value ?? null;
}

/** The zoho-error with every field, kebab-case, details parsed when it is JSON. */
export function errorJson(error) {
  let details = error.details ?? null;
  if (typeof details === 'string') {
    try {
      details = JSON.parse(details);
    } catch { /* keep the text */ }
  }
  return {
    kind: error.kind,
    status: error.status ?? null,
    code: error.code ?? null,
    message: error.message,
    details,
    // A u64 past 2^53 would lose digits as a JS number: it is printed as text then.
    'retry-after-ms': error.retryAfterMs === undefined ? null : error.retryAfterMs <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(error.retryAfterMs) : String(error.retryAfterMs),
  };
}

// ---------------------------------------------------------------------------------------------
// Which namespace (tenant) a step's key-value state lives in.

/**
 * zoho-host's digest of a connection's identity (never its secrets in clear). Platforms that
 * know their tenant ids should pass `namespace` instead: a platform-managed access token
 * rotates, and with it this digest (zoho-host asks Zoho for the org id; this script does not).
 */
export function namespaceOf(connection) {
  const field = (name) => (typeof connection?.[name] === 'string' ? connection[name].trim() : '');
  const identity = [field('region'), field('accounts-url'), field('api-domain'), field('client-id')];
  identity.push(field('refresh-token') || field('soid') || field('access-token'));
  return `conn-${createHash('sha256').update(identity.join('\u0000')).digest('hex').slice(0, 32)}`;
}

// ---------------------------------------------------------------------------------------------
// The worker: compiles the component once, instantiates it per step.

/** (scheme, host, port) of an origin or URL, lower-case. */
function originOf(url) {
  const u = new URL(url);
  const port = u.port || (u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '');
  return `${u.protocol}//${u.hostname.toLowerCase()}:${port}`;
}

async function workerMain() {
  const { WASIShim } = await import('@bytecodealliance/preview2-shim/instantiation');
  const kv = await import('./keyvalue.js');
  const { out } = workerData;
  const { instantiate } = await import(pathToFileURL(path.join(out, 'zoho_connector.js')).href);
  const compiled = new Map();
  const getCoreModule = (name) => {
    if (!compiled.has(name)) compiled.set(name, WebAssembly.compile(fs.readFileSync(path.join(out, name))));
    return compiled.get(name);
  };

  async function step({ action, connection, input, options, namespace, store, allowOrigins }) {
    kv.configure({ file: store, namespace });
    // No host environment, arguments or preopened directories reach the component.
    const shim = new WASIShim({ environment: {}, arguments: [] });
    const imports = shim.getImportObject();
    if (allowOrigins && allowOrigins.length) {
      // The host-side allowlist zoho-host has: requests to any other origin are refused.
      const allowed = new Set(allowOrigins.map(originOf));
      const handler = imports['wasi:http/outgoing-handler'];
      imports['wasi:http/outgoing-handler'] = {
        ...handler,
        handle(request, requestOptions) {
          const scheme = request.scheme();
          const name = scheme?.tag === 'HTTP' ? 'http' : scheme?.tag === 'HTTPS' ? 'https' : scheme?.val ?? 'https';
          let origin = null;
          try {
            origin = originOf(`${name}://${request.authority() ?? ''}`);
          } catch { /* refused below */ }
          if (!origin || !allowed.has(origin)) throw { tag: 'HTTP-request-denied' };
          return handler.handle(request, requestOptions);
        },
      };
    }
    imports['wasi:keyvalue/store'] = kv.store;
    imports['wasi:keyvalue/atomics'] = kv.atomics;
    imports['wasi:keyvalue/batch'] = kv.batch;
    const component = await instantiate(getCoreModule, imports);
    const [iface, fn] = action;
    const exported = component[iface]?.[fn];
    if (typeof exported !== 'function') throw new Error(`the component exports no ${iface}#${fn}`);
    try {
      return { ok: okJson(exported(connection, input, options)) };
    } catch (e) {
      if (e && typeof e === 'object' && 'payload' in e && e.payload && typeof e.payload.kind === 'string') return { err: errorJson(e.payload) };
      throw e;
    }
  }

  parentPort.on('message', async (request) => {
    try {
      parentPort.postMessage(await step(request));
    } catch (e) {
      parentPort.postMessage({ fatal: `the step stopped: ${e?.stack ?? e}` });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The main thread: manifest lookup, input conversion, the worker and its deadline.

let manifestCache = null;
export function loadManifest(file = DEFAULT_MANIFEST) {
  if (!manifestCache || manifestCache.file !== file) manifestCache = { file, manifest: JSON.parse(fs.readFileSync(file, 'utf8')) };
  return manifestCache.manifest;
}

/** The jco export for a manifest action: (crm, getRecords) for zoho:connector/crm@0.1.0 get-records. */
function exportOf(entry) {
  const iface = entry.wit.interface.replace(/^[^/]*\//, '').replace(/@.*$/, '');
  return [camel(iface), camel(entry.wit.function)];
}

/** Runs one step in `worker` (a Worker started on this file); resolves to {ok}, {err} or {fatal}. */
export function stepInWorker(worker, request, deadlineMs = DEFAULT_DEADLINE_MS) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      // The shim cannot cancel a blocked call: ending the worker is the only way out.
      worker.terminate();
      resolve({ fatal: `the step ran past its deadline of ${deadlineMs} ms` });
    }, deadlineMs);
    const done = (outcome) => {
      clearTimeout(timer);
      worker.off('message', done);
      worker.off('error', failed);
      resolve(outcome);
    };
    const failed = (e) => done({ fatal: `the worker failed: ${e?.stack ?? e}` });
    worker.on('message', done);
    worker.on('error', failed);
    worker.postMessage(request);
  });
}

export function startWorker(out = DEFAULT_OUT) {
  if (!fs.existsSync(path.join(out, 'zoho_connector.js'))) {
    throw new InputError(`no transpiled component in ${out}: run \`npm run transpile\` in ${here}`);
  }
  return new Worker(fileURLToPath(import.meta.url), { workerData: { out } });
}

/** Converts the inputs and runs the action in a fresh worker. */
export async function runAction(key, connection, input, options, settings = {}) {
  const manifest = loadManifest(settings.manifest);
  const entry = manifest.actions.find((a) => a.key === key);
  if (!entry) throw new InputError(`no action ${JSON.stringify(key)}; actions.json lists them`);
  const request = {
    action: exportOf(entry),
    connection: convertRecord(connection, manifest.connection['input-schema'], 'connection'),
    input: convertRecord(input, entry['input-schema'], 'input'),
    options: options === null || options === undefined ? undefined : convertRecord(options, manifest['call-options']['input-schema'], 'options'),
    namespace: settings.namespace ?? namespaceOf(connection),
    store: settings.store === undefined ? DEFAULT_STORE : settings.store,
    allowOrigins: settings.allowOrigins ?? [],
  };
  const worker = startWorker(settings.out);
  try {
    return await stepInWorker(worker, request, settings.deadlineMs);
  } finally {
    await worker.terminate();
  }
}

function jsonArg(text, what) {
  const source = text.startsWith('@') ? fs.readFileSync(text.slice(1), 'utf8') : text;
  try {
    return JSON.parse(source);
  } catch (e) {
    throw new InputError(`${what} is not valid JSON: ${e.message}`);
  }
}

const USAGE = `usage: node run.mjs <action-key> --connection JSON|@file [--input JSON|@file] [--options JSON|@file]
                   [--namespace NS] [--store FILE | --no-store] [--allow-origin URL]... [--deadline-ms N]`;

async function cli(argv) {
  const args = { input: '{}', allowOrigins: [] };
  let key = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new InputError(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--connection': args.connection = value(); break;
      case '--input': args.input = value(); break;
      case '--options': args.options = value(); break;
      case '--namespace': args.namespace = value(); break;
      case '--store': args.store = value(); break;
      case '--no-store': args.store = null; break;
      case '--allow-origin': args.allowOrigins.push(value()); break;
      case '--deadline-ms': args.deadlineMs = Number(value()); break;
      case '--out': args.out = value(); break;
      case '--manifest': args.manifest = value(); break;
      case '-h': case '--help': process.stdout.write(`${USAGE}\n`); return 0;
      default:
        if (arg.startsWith('-') || key !== null) throw new InputError(`unexpected argument ${arg}\n${USAGE}`);
        key = arg;
    }
  }
  if (key === null || args.connection === undefined) throw new InputError(USAGE);
  if (args.deadlineMs !== undefined && !(Number.isSafeInteger(args.deadlineMs) && args.deadlineMs > 0)) throw new InputError('--deadline-ms must be a whole number of milliseconds');
  const outcome = await runAction(
    key,
    jsonArg(args.connection, '--connection'),
    jsonArg(args.input, '--input'),
    args.options === undefined ? undefined : jsonArg(args.options, '--options'),
    { namespace: args.namespace, store: args.store, allowOrigins: args.allowOrigins, deadlineMs: args.deadlineMs, out: args.out, manifest: args.manifest },
  );
  if ('ok' in outcome) {
    process.stdout.write(`${JSON.stringify(outcome.ok, null, 2)}\n`);
    return 0;
  }
  if ('err' in outcome) {
    process.stderr.write(`${JSON.stringify(outcome.err, null, 2)}\n`);
    return 1;
  }
  process.stderr.write(`run.mjs: ${outcome.fatal}\n`);
  return 2;
}

if (!isMainThread) {
  await workerMain();
} else if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = await cli(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`run.mjs: ${e instanceof InputError ? e.message : e?.stack ?? e}\n`);
    process.exitCode = 2;
  }
}
