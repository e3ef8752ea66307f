/**
 * A deterministic folder tree generated on demand from a seed: nothing is stored, so a root of 1,000,000+
 * items costs no memory (issue 4). Folder ids encode their place in the tree:
 *   "0"                         root, `rootItems` children
 *   1_000_000_000 + i           the i-th sub-folder of the root
 *   2_000_000_000_000 + i*1000+j the j-th sub-folder of root sub-folder i (depth 2 holds files and links only)
 * Within a folder, entries are ordered folders, then files, then web links (box-api.md §5 "Sorting").
 * Names include non-ASCII, control characters and terminal escape sequences, as real users' names do.
 */
import { createHash } from 'node:crypto';

const D1 = 1_000_000_000;
const D2 = 2_000_000_000_000;

export interface FolderShape {
  id: string;
  folders: number;
  files: number;
  links: number;
  depth: number;
}

export type Entry = Record<string, unknown> & { type: string; id: string };

const FILE_NAMES: Array<(n: string) => string> = [
  (n) => `Report ${n}.pdf`,
  (n) => `Résumé ${n}.docx`,
  (n) => `日本語ファイル ${n}.txt`,
  (n) => `Ünïcödé – ${n}.md`,
  (n) => `photo ${n}.JPG`,
  (n) => `emoji 🎉 ${n}.png`,
  (n) => `evil \u001b]0;pwned\u0007 ${n}.txt`,
  (n) => `red \u001b[31mALERT\u001b[0m ${n}.log`,
  (n) => `tab\tand\nnewline ${n}.csv`,
  (n) => `naïve café ${n}.xlsx`,
  (n) => `Ελληνικά ${n}.txt`,
  (n) => `bidi \u202egnp.exe ${n}`,
  (n) => `data-${n}.bin`,
];
const FOLDER_NAMES: Array<(n: string) => string> = [
  (n) => `Folder ${n}`,
  (n) => `Projets été ${n}`,
  (n) => `フォルダ ${n}`,
  (n) => `\u001b[31mred folder\u001b[0m ${n}`,
  (n) => `Archive ${n}`,
];

function hash(...parts: Array<string | number>): Buffer {
  return createHash('sha1').update(parts.join('/')).digest();
}

/** A fast 32-bit mix (murmur3 finaliser): per-entry attributes must be cheap for million-item listings. */
function mix(a: number, b: number, c: number): number {
  let h =
    (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b) ^ Math.imul(c + 0x165667b1, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function idNum(id: string): number {
  // Folder ids stay below 2^53; fold to 32 bits for mixing.
  const n = Number(id);
  return (n % 4294967296) ^ Math.floor(n / 4294967296);
}

/** 40 lower-case hex chars, deterministic per (seed, id): a stand-in for the content's SHA-1. */
function fakeSha1(seed: number, id: string): string {
  const base = idNum(id);
  let out = '';
  for (let i = 0; i < 5; i++)
    out += mix(seed, base, i + 1)
      .toString(16)
      .padStart(8, '0');
  return out;
}

function split(total: number): { folders: number; files: number; links: number } {
  if (total <= 0) return { folders: 0, files: 0, links: 0 };
  const folders = Math.min(total, Math.floor(total / 20) || (total >= 3 ? 1 : 0));
  const links = Math.min(total - folders, Math.floor(total / 50) || (total >= 3 ? 1 : 0));
  return { folders, files: total - folders - links, links };
}

/** The shape of a folder, or undefined when no such folder exists (-> 404 not_found). */
export function folderShape(seed: number, rootItems: number, id: string): FolderShape | undefined {
  if (id === '0') return { id, depth: 0, ...split(rootItems) };
  if (!/^[1-9][0-9]{0,15}$/.test(id)) return undefined;
  const n = Number(id);
  const root = split(rootItems);
  if (n >= D1 && n < D1 + root.folders) {
    const size = hash(seed, id).readUInt32BE(0) % 60;
    const s = split(size);
    return { id, depth: 1, ...s };
  }
  if (n >= D2 && n < D2 * 1.5) {
    const parent = Math.floor((n - D2) / 1000);
    const j = (n - D2) % 1000;
    const parentShape = folderShape(seed, rootItems, String(D1 + parent));
    if (!parentShape || j >= parentShape.folders) return undefined;
    const size = hash(seed, id).readUInt32BE(0) % 25;
    return { id, depth: 2, folders: 0, files: size, links: size > 10 ? 1 : 0 };
  }
  return undefined;
}

export function totalOf(s: FolderShape): number {
  return s.folders + s.files + s.links;
}

function childFolderId(parent: FolderShape, i: number): string {
  if (parent.depth === 0) return String(D1 + i);
  return String(D2 + (Number(parent.id) - D1) * 1000 + i);
}

function pad(i: number): string {
  return String(i).padStart(7, '0');
}

const ISO = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '-08:00');

/** The full representation of the entry at `index`; callers project it to the requested fields. */
export function entryAt(seed: number, parent: FolderShape, index: number): Entry {
  const h = mix(seed, idNum(parent.id), index);
  const seq = String(h % 5);
  const created = ISO(1_600_000_000_000 + (h % 100_000_000) * 1000);
  if (index < parent.folders) {
    const id = childFolderId(parent, index);
    const name = FOLDER_NAMES[index % FOLDER_NAMES.length]!(pad(index));
    return {
      type: 'folder',
      id,
      sequence_id: seq,
      etag: seq,
      name,
      created_at: created,
      modified_at: created,
      size: 0,
    };
  }
  const k = index - parent.folders;
  if (k < parent.files) {
    const id = parent.depth === 0 ? String(5_000_000_000 + k) : `9${parent.id}${String(k).padStart(4, '0')}`;
    const sha1 = fakeSha1(seed, id);
    const name = FILE_NAMES[k % FILE_NAMES.length]!(pad(k));
    return {
      type: 'file',
      id,
      file_version: { type: 'file_version', id: String(7_000_000_000 + (Number(id) % 1_000_000_000)), sha1 },
      sequence_id: seq,
      etag: seq,
      sha1,
      name,
      size: mix(h, seed, 7) % 50_000_000,
      created_at: created,
      modified_at: created,
      content_created_at: created,
      content_modified_at: created,
      item_status: 'active',
    };
  }
  const l = k - parent.files;
  const id = parent.depth === 0 ? String(8_000_000_000 + l) : `8${parent.id}${String(l).padStart(4, '0')}`;
  return {
    type: 'web_link',
    id,
    sequence_id: seq,
    etag: seq,
    name: `Link ${pad(l)}`,
    url: `https://example.com/link/${l}`,
    created_at: created,
    modified_at: created,
  };
}

const MINI: Record<string, string[]> = {
  folder: ['type', 'id', 'sequence_id', 'etag', 'name'],
  file: ['type', 'id', 'file_version', 'sequence_id', 'etag', 'sha1', 'name'],
  web_link: ['type', 'id', 'sequence_id', 'etag', 'name', 'url'],
};

/** Mini representation by default; with `fields`, the base set (type, id, etag) plus what was asked ([DOC-fields]). */
export function project(entry: Entry, fields: string[] | undefined): Entry {
  const keys = fields ? ['type', 'id', 'etag', ...fields] : (MINI[entry.type] ?? ['type', 'id']);
  const out: Entry = { type: entry.type, id: entry.id };
  for (const k of keys) if (k in entry) out[k] = entry[k];
  return out;
}
