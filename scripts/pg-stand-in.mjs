// A stand-in PostgreSQL server for the build's code-cache runs (scripts/bundle.mjs) only: enough of the wire
// protocol (v3, trust authentication, the extended query protocol pg uses for parameterised queries) for one
// `box-qc token --email E` and one `status --json --email E` to run against a PostgreSQL store, so that V8's
// cache of the bundle holds the pg driver's connect and query paths and the PostgreSQL store's read path.
// Measured (issue 20): without them a PostgreSQL `token` compiled ~13 ms of functions on every run.
// It is not a database: it knows the three statements those runs send (the schema check, the one-user read, the
// history read) by their text and answers every other statement with no rows. If box-qc's statements change,
// a run may fail; the build then warns and the cache simply lacks those paths (bin/box-qc.js compiles them as
// usual). Never used by tests, the CLI or the library.
import { createServer } from 'node:net';

const BOOL = 16;
const JSONB = 3802;

/** A stored record with a fresh access token ('a' x 32) for `login`, as the code-cache runs and tests use. */
export function freshRecord(login) {
  const at = (ms) => new Date(Date.now() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    access_token: 'a'.repeat(32),
    refresh_token: 'r'.repeat(64),
    access_token_expires_at: at(3_600_000),
    connected_at: at(0),
    updated_at: at(0),
    box_user_login: login,
  };
}

/** Starts the stand-in on 127.0.0.1; `record` is the stored record it serves for every email. */
export async function startPgStandIn(record) {
  const sockets = new Set();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    serve(socket, record);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    url: `postgres://cache@127.0.0.1:${server.address().port}/cache`,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

function serve(socket, record) {
  let buf = Buffer.alloc(0);
  let started = false;
  let out = [];
  let statement = [];
  socket.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (!started) {
        if (buf.length < 8) return;
        const len = buf.readInt32BE(0);
        if (buf.length < len) return;
        const code = buf.readInt32BE(4);
        buf = buf.subarray(len);
        if (code === 80877103) {
          socket.write('N'); // SSLRequest: no TLS here
          continue;
        }
        started = true;
        socket.write(
          Buffer.concat([
            message('R', int32(0)),
            status('server_version', '15.0'),
            status('client_encoding', 'UTF8'),
            message('K', Buffer.concat([int32(1), int32(1)])),
            ready(),
          ]),
        );
        continue;
      }
      if (buf.length < 5) return;
      const type = String.fromCharCode(buf[0]);
      const len = buf.readInt32BE(1);
      if (buf.length < 1 + len) return;
      const body = buf.subarray(5, 1 + len);
      buf = buf.subarray(1 + len);
      if (type === 'X') return void socket.end();
      if (type === 'Q') {
        socket.write(Buffer.concat([...answer(cstring(body), record, true), ready()]));
      } else if (type === 'P') {
        // Parse: name, then the statement's text.
        statement = answer(cstring(body, body.indexOf(0) + 1), record, false);
        out.push(message('1', Buffer.alloc(0)));
      } else if (type === 'B') {
        out.push(message('2', Buffer.alloc(0)));
      } else if (type === 'D') {
        out.push(statement[0]); // the row description
      } else if (type === 'E') {
        out.push(...statement.slice(1)); // the rows and the command tag
      } else if (type === 'S') {
        socket.write(Buffer.concat([...out, ready()]));
        out = [];
      }
    }
  });
}

function answer(sql, record, simple) {
  if (/to_regclass/.test(sql)) return rows([['ok', BOOL]], [['t']]);
  if (/FROM box_qc_tokens t WHERE t\.email/.test(sql))
    return rows(
      [
        ['extra', JSONB],
        ['record', JSONB],
      ],
      [[null, JSON.stringify(record)]],
    );
  if (simple) return [message('C', cstringOf(sql.trim().split(/\s+/)[0].toUpperCase()))];
  return rows([], []);
}

function rows(columns, values) {
  const desc = Buffer.concat([
    int16(columns.length),
    ...columns.map(([name, oid]) =>
      Buffer.concat([cstringOf(name), int32(0), int16(0), int32(oid), int16(-1), int32(-1), int16(0)]),
    ),
  ]);
  const data = values.map((row) =>
    message(
      'D',
      Buffer.concat([
        int16(row.length),
        ...row.map((v) => (v === null ? int32(-1) : Buffer.concat([int32(Buffer.byteLength(v)), Buffer.from(v)]))),
      ]),
    ),
  );
  return [message('T', desc), ...data, message('C', cstringOf(`SELECT ${values.length}`))];
}

const ready = () => message('Z', Buffer.from('I'));
const status = (k, v) => message('S', Buffer.concat([cstringOf(k), cstringOf(v)]));
const message = (type, body) => Buffer.concat([Buffer.from(type), int32(body.length + 4), body]);
const cstringOf = (s) => Buffer.from(`${s}\0`);
const cstring = (b, from = 0) => b.toString('utf8', from, b.indexOf(0, from));
function int32(n) {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}
function int16(n) {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}
