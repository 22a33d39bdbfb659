// A reference wasi:keyvalue@0.2.0-draft (store, atomics, batch) for the Zoho connector under jco.
//
// Backed by one JSON file. Every write takes a lock file, reads the file, changes it, writes a
// temporary file and renames it over the old one (atomic on POSIX), so several Node processes
// and worker threads may share the file, and a crash never leaves half a file. Reads need no
// lock: a rename is seen whole or not at all.
//
// What a production store must add (see "Runs in other hosts: jco in Node" in docs/embedding.md): a
// real database (Redis, SQL) instead of rewriting one file per write; atomic increments without
// a global lock; encryption at rest (the store holds access tokens); expiry of dead namespaces.
//
// The component's contract, which any store must keep:
// - `increment` writes its counter as decimal ASCII text: the component reads counters back
//   with `get` and parses them as text ("3", not 8 binary bytes). Absent counts as 0.
// - `increment` is atomic across every worker sharing the store (leases and rate counters
//   rely on it), and state survives restarts (token cache, sweep cursors, pages).
// - Each tenant (connection) gets its own namespace: pass it to `configure` before each step.
//
// Errors are thrown as the WIT `error` variant ({tag: 'other', val: text}); jco hands a thrown
// plain object to the component as the `err` of the result. A thrown Error would trap.

import fs from 'node:fs';
import path from 'node:path';

/** Keys returned per `list-keys` call, as zoho-host does. */
const LIST_PAGE = 1000;
/** Bucket names longer than this (bytes) are refused, as zoho-host does. */
const MAX_BUCKET_NAME = 128;
/** A lock older than this is taken to be left by a crashed process. */
const STALE_LOCK_MS = 10_000;
/** How long a writer waits for the lock before failing. */
const LOCK_PATIENCE_MS = 5_000;
const U64_MAX = (1n << 64n) - 1n;

let config = { file: null, namespace: 'default' };

/**
 * Chooses the file and the namespace (tenant) of the buckets opened from now on. Call it
 * before each step; buckets already open keep theirs. `file: null` keeps nothing (open fails
 * with no-such-store, as a host without a store would).
 */
export function configure({ file, namespace }) {
  if (typeof namespace !== 'string' || namespace === '') throw new TypeError('namespace must be a non-empty string');
  config = { file: file ?? null, namespace };
  if (config.file) ensurePrivateFile(config.file);
}

const other = (val) => ({ tag: 'other', val });

function ensurePrivateFile(file) {
  const dir = path.dirname(file);
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // The file holds access tokens: only this user may read it.
  if (!fs.existsSync(file)) {
    try {
      fs.writeFileSync(file, '{"namespaces":{}}', { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
  }
}

function load(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return { namespaces: {} };
    throw other(`key-value store: reading ${file}: ${e.message}`);
  }
  try {
    const data = JSON.parse(text);
    if (data && typeof data.namespaces === 'object' && data.namespaces !== null) return data;
  } catch {
    // fall through
  }
  throw other(`key-value store: ${file} is not a key-value file`);
}

function save(file, data) {
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    fs.writeFileSync(temp, JSON.stringify(data), { mode: 0o600 });
    fs.renameSync(temp, file);
  } catch (e) {
    try { fs.unlinkSync(temp); } catch { /* already gone */ }
    throw other(`key-value store: writing ${file}: ${e.message}`);
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleep(ms) {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Runs `change(data)` under the file's lock and saves the result; returns what it returns. */
function locked(file, change) {
  const lock = `${file}.lock`;
  const started = Date.now();
  for (;;) {
    try {
      fs.closeSync(fs.openSync(lock, 'wx', 0o600));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw other(`key-value store: locking ${file}: ${e.message}`);
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > STALE_LOCK_MS) fs.unlinkSync(lock);
      } catch { /* another process broke or released it */ }
      if (Date.now() - started > LOCK_PATIENCE_MS) throw other(`key-value store: ${file} stayed locked for ${LOCK_PATIENCE_MS} ms`);
      sleep(2);
    }
  }
  try {
    const data = load(file);
    const result = change(data);
    save(file, data);
    return result;
  } finally {
    try { fs.unlinkSync(lock); } catch { /* nothing to release */ }
  }
}

// Keys, bucket and namespace names are any text ("__proto__", "toString" included): read and
// write own properties only, never through the prototype.
function own(object, key) {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}
function put(object, key, value) {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  return value;
}

function entries(data, bucket, create) {
  const ns = own(data.namespaces, bucket.namespace) ?? (create ? put(data.namespaces, bucket.namespace, {}) : null);
  if (!ns) return null;
  return own(ns, bucket.name) ?? (create ? put(ns, bucket.name, {}) : null);
}

function decode(b64) {
  if (typeof b64 !== 'string') throw other('key-value store: a stored value is not base64 text');
  return new Uint8Array(Buffer.from(b64, 'base64'));
}
const encode = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

function checkKey(key) {
  if (typeof key !== 'string') throw other('keys are text');
}

function getOne(bucket, key) {
  checkKey(key);
  const e = entries(load(bucket.file), bucket, false);
  const found = e ? own(e, key) : undefined;
  return found === undefined ? undefined : decode(found);
}

class Bucket {
  #namespace;
  #name;
  #file;
  constructor(file, namespace, name) {
    this.#file = file;
    this.#namespace = namespace;
    this.#name = name;
  }
  get file() { return this.#file; }
  get namespace() { return this.#namespace; }
  get name() { return this.#name; }

  get(key) {
    return getOne(this, key);
  }

  set(key, value) {
    checkKey(key);
    const text = encode(value);
    locked(this.#file, (data) => { put(entries(data, this, true), key, text); });
  }

  delete(key) {
    checkKey(key);
    locked(this.#file, (data) => { const e = entries(data, this, false); if (e) delete e[key]; });
  }

  exists(key) {
    return getOne(this, key) !== undefined;
  }

  /** Keys in sorted order, LIST_PAGE at a time; the cursor is the offset of the next page. */
  listKeys(cursor) {
    const all = Object.keys(entries(load(this.#file), this, false) ?? {}).sort();
    const offset = cursor === undefined ? 0 : Number(cursor > BigInt(all.length) ? BigInt(all.length) : cursor);
    const keys = all.slice(offset, offset + LIST_PAGE);
    const next = offset + keys.length;
    return { keys, cursor: next < all.length ? BigInt(next) : undefined };
  }
}

export const store = {
  Bucket,
  open(identifier) {
    if (!config.file) throw { tag: 'no-such-store' };
    if (Buffer.byteLength(identifier, 'utf8') > MAX_BUCKET_NAME) throw other(`bucket names are at most ${MAX_BUCKET_NAME} bytes`);
    return new Bucket(config.file, config.namespace, identifier);
  },
};

export const atomics = {
  /** Adds `delta` to a decimal counter (absent counts as 0) and stores it back as decimal text. */
  increment(bucket, key, delta) {
    checkKey(key);
    return locked(bucket.file, (data) => {
      const e = entries(data, bucket, true);
      let current = 0n;
      const stored = own(e, key);
      if (stored !== undefined) {
        if (typeof stored !== 'string') throw other(`key ${JSON.stringify(key)} does not hold a counter`);
        const text = Buffer.from(stored, 'base64').toString('latin1');
        if (!/^[0-9]{1,20}$/.test(text) || BigInt(text) > U64_MAX) throw other(`key ${JSON.stringify(key)} does not hold a counter`);
        current = BigInt(text);
      }
      const next = current + BigInt(delta);
      if (next > U64_MAX) throw other(`counter ${JSON.stringify(key)} overflows`);
      put(e, key, Buffer.from(next.toString(), 'latin1').toString('base64'));
      return next;
    });
  },
};

export const batch = {
  getMany(bucket, keys) {
    keys.forEach(checkKey);
    const e = entries(load(bucket.file), bucket, false) ?? {};
    return keys.map((key) => { const found = own(e, key); return found === undefined ? undefined : [key, decode(found)]; });
  },
  setMany(bucket, keyValues) {
    keyValues.forEach(([key]) => checkKey(key));
    const texts = keyValues.map(([key, value]) => [key, encode(value)]);
    locked(bucket.file, (data) => { const e = entries(data, bucket, true); for (const [key, text] of texts) put(e, key, text); });
  },
  deleteMany(bucket, keys) {
    keys.forEach(checkKey);
    locked(bucket.file, (data) => { const e = entries(data, bucket, false); if (e) for (const key of keys) delete e[key]; });
  },
};
