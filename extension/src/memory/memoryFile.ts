// The on-disk form of the workspace memory: one small binary file, written atomically (temp file, fsync,
// rename), ending in a CRC-32 of everything before it so a torn or corrupted file is detected, never used.
//
//   "ILMEM\0\0\1" | u32 version | u32 L, Hkv, dk, dv | u32 tagLen, tag (utf8: model identity)
//   | f64 M [L·Hkv·dk·dv] | f64 z [L·Hkv·dk] | u32 nFiles | per file: u32 pathLen, path, u8 width (2|4),
//   u32 nTokens, tokens (little-endian) | u32 crc32
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, mkdirSync, unlinkSync } from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';

export const MAGIC = Buffer.from('ILMEM\0\0\x01', 'latin1');
export const FORMAT_VERSION = 1;

export interface MemoryShape { layers: number; kvHeads: number; dk: number; dv: number }

export interface MemorySnapshot {
  shape: MemoryShape;
  tag: string;              // model identity (e.g. the weights' hash): another model's memory is not reused
  M: Float64Array;          // [L, Hkv, dk, dv]
  z: Float64Array;          // [L, Hkv, dk]
  files: Map<string, Int32Array>; // path → token ids (without <doc>)
}

export class MemoryFileError extends Error {}

export function encodeSnapshot(s: MemorySnapshot): Buffer {
  const parts: Buffer[] = [MAGIC];
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); parts.push(b); };
  u32(FORMAT_VERSION);
  for (const n of [s.shape.layers, s.shape.kvHeads, s.shape.dk, s.shape.dv]) u32(n);
  const tag = Buffer.from(s.tag, 'utf8');
  u32(tag.length); parts.push(tag);
  parts.push(Buffer.from(s.M.buffer, s.M.byteOffset, s.M.byteLength), Buffer.from(s.z.buffer, s.z.byteOffset, s.z.byteLength));
  u32(s.files.size);
  for (const [p, ids] of s.files) {
    const pb = Buffer.from(p, 'utf8');
    u32(pb.length); parts.push(pb);
    const width = ids.every((x) => x >= 0 && x < 65536) ? 2 : 4;
    parts.push(Buffer.of(width)); u32(ids.length);
    const t = width === 2 ? Uint16Array.from(ids) : ids;
    parts.push(Buffer.from(t.buffer, t.byteOffset, t.byteLength));
  }
  const body = Buffer.concat(parts);
  const crc = Buffer.alloc(4); crc.writeUInt32LE(crc32(body));
  return Buffer.concat([body, crc]);
}

export function decodeSnapshot(buf: Buffer): MemorySnapshot {
  if (buf.length < MAGIC.length + 8 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new MemoryFileError('not a memory file');
  const body = buf.subarray(0, buf.length - 4);
  if (crc32(body) !== buf.readUInt32LE(buf.length - 4)) throw new MemoryFileError('checksum mismatch (torn or corrupted file)');
  let o = MAGIC.length;
  const u32 = () => { const v = body.readUInt32LE(o); o += 4; return v; };
  const take = (n: number) => { if (o + n > body.length) throw new MemoryFileError('truncated'); const b = body.subarray(o, o + n); o += n; return b; };
  const version = u32();
  if (version !== FORMAT_VERSION) throw new MemoryFileError(`format version ${version}, expected ${FORMAT_VERSION}`);
  const shape = { layers: u32(), kvHeads: u32(), dk: u32(), dv: u32() };
  const tag = take(u32()).toString('utf8');
  const nM = shape.layers * shape.kvHeads * shape.dk * shape.dv, nz = shape.layers * shape.kvHeads * shape.dk;
  // Copy into fresh (8-byte aligned) arrays: the buffer slice may sit at any offset.
  const M = new Float64Array(new Uint8Array(take(nM * 8)).buffer);
  const z = new Float64Array(new Uint8Array(take(nz * 8)).buffer);
  const files = new Map<string, Int32Array>();
  for (let n = u32(), i = 0; i < n; i++) {
    const p = take(u32()).toString('utf8');
    const width = take(1)[0]!;
    const count = u32();
    const raw = new Uint8Array(take(count * width)).buffer;
    files.set(p, width === 2 ? Int32Array.from(new Uint16Array(raw)) : new Int32Array(raw));
  }
  if (o !== body.length) throw new MemoryFileError('trailing bytes');
  return { shape, tag, M, z, files };
}

/** Write-then-rename: a crash leaves either the old file or the new one, never a mix. */
export function writeAtomic(file: string, data: Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try { writeSync(fd, data); fsyncSync(fd); } finally { closeSync(fd); }
  try { renameSync(tmp, file); } catch (e) { try { unlinkSync(tmp); } catch { /* already gone */ } throw e; }
  try { const d = openSync(path.dirname(file), 'r'); try { fsyncSync(d); } finally { closeSync(d); } } catch { /* best effort on platforms without dir fsync */ }
}

export function readSnapshot(file: string): MemorySnapshot {
  return decodeSnapshot(readFileSync(file));
}
