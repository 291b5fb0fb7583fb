// The per-workspace compressed memory: for every layer and kv head, M = Σ over files of σ(K)ᵀV and z = Σσ(K)
// (each file's `mem_sum`/`z_sum` from the encoder). Its size is fixed ([L,Hkv,64,64] + [L,Hkv,64] float64)
// whatever the workspace size; queries read it.
//
// Staying equal to a full rebuild after edits, renames and deletions needs each file's old contribution when
// it changes. We keep each file's token ids (2 bytes a token) rather than its contribution (L·Hkv·4160
// floats = 130 KB in float32 for the contract's model, whatever the file's size): for typical source files the
// ids are 10–100× smaller, and the old contribution is recomputed from them by the same deterministic encoder
// (one extra encoder pass for the old version of a changed or deleted file). Renames cost nothing: a
// contribution does not depend on the path. Sums are float64 so thousands of add/subtract steps don't drift.
import { existsSync } from 'node:fs';
import { encodeSnapshot, MemoryFileError, readSnapshot, writeAtomic, type MemoryShape } from './memoryFile.js';

export interface Contribution {
  mem: ArrayLike<number>; // [L, Hkv, dk, dv]
  z: ArrayLike<number>;   // [L, Hkv, dk]
}
/** Encodes one file's tokens (without <doc>) and returns its contribution: the runtime's Encoder.contribution. */
export type EncodeContribution = (tokens: Int32Array) => Promise<Contribution>;

export interface MemoryOptions {
  shape: MemoryShape;
  /** Model identity; a memory file written for another model is discarded (and rebuilt by the caller). */
  tag: string;
  encode: EncodeContribution;
  log?: (msg: string) => void;
}

export class WorkspaceMemory {
  readonly M: Float64Array; // [L, Hkv, dk, dv]
  readonly z: Float64Array; // [L, Hkv, dk]
  private readonly files = new Map<string, Int32Array>();
  /** Set when open() found no usable file: the caller should add every file (a full rebuild). */
  needsRebuild = false;

  private constructor(private readonly file: string | undefined, private readonly opts: MemoryOptions) {
    const { layers, kvHeads, dk, dv } = opts.shape;
    this.M = new Float64Array(layers * kvHeads * dk * dv);
    this.z = new Float64Array(layers * kvHeads * dk);
  }

  /** In memory only (tests, one-off CLI runs). */
  static create(opts: MemoryOptions): WorkspaceMemory {
    return new WorkspaceMemory(undefined, opts);
  }

  /** Loads the memory file; a missing, corrupt or foreign file gives an empty memory with needsRebuild set. */
  static open(file: string, opts: MemoryOptions): WorkspaceMemory {
    const m = new WorkspaceMemory(file, opts);
    if (!existsSync(file)) { m.needsRebuild = true; return m; }
    try {
      const s = readSnapshot(file);
      const same = JSON.stringify(s.shape) === JSON.stringify(opts.shape) && s.tag === opts.tag;
      if (!same) throw new MemoryFileError(`written for another model (${s.tag})`);
      m.M.set(s.M); m.z.set(s.z);
      for (const [p, ids] of s.files) m.files.set(p, ids);
    } catch (e) {
      if (!(e instanceof MemoryFileError)) throw e;
      opts.log?.(`workspace memory ${file}: ${e.message}; rebuilding it`);
      m.needsRebuild = true;
    }
    return m;
  }

  get fileCount(): number { return this.files.size; }
  has(path: string): boolean { return this.files.has(path); }

  /** Adds a file or replaces its old version. `contribution` may be passed when the encoder already gave it. */
  async setFile(path: string, tokens: Int32Array, contribution?: Contribution): Promise<void> {
    const old = this.files.get(path);
    if (old && sameTokens(old, tokens)) return;
    const add = contribution ?? await this.opts.encode(tokens);
    if (old) this.apply(await this.opts.encode(old), -1);
    this.apply(add, +1);
    this.files.set(path, tokens.slice());
  }

  async removeFile(path: string): Promise<void> {
    const old = this.files.get(path);
    if (!old) return;
    this.apply(await this.opts.encode(old), -1);
    this.files.delete(path);
  }

  renameFile(from: string, to: string): void {
    const ids = this.files.get(from);
    if (!ids) return;
    if (this.files.has(to) && from !== to) throw new Error(`rename target ${to} is already in the memory`);
    this.files.delete(from);
    this.files.set(to, ids);
  }

  /** Recomputes the sums from every stored file: resets any accumulated rounding. */
  async rebuild(): Promise<void> {
    this.M.fill(0); this.z.fill(0);
    for (const ids of this.files.values()) this.apply(await this.opts.encode(ids), +1);
    this.needsRebuild = false;
  }

  /** The memory as the query graph takes it (float32 mem_in, z_in). */
  state(): { mem: Float32Array; z: Float32Array } {
    return { mem: Float32Array.from(this.M), z: Float32Array.from(this.z) };
  }

  save(): void {
    if (!this.file) return;
    writeAtomic(this.file, encodeSnapshot({ shape: this.opts.shape, tag: this.opts.tag, M: this.M, z: this.z, files: this.files }));
  }

  private apply(c: Contribution, sign: 1 | -1): void {
    if (c.mem.length !== this.M.length || c.z.length !== this.z.length) {
      throw new Error(`contribution has ${c.mem.length}/${c.z.length} values, memory expects ${this.M.length}/${this.z.length}`);
    }
    for (let i = 0; i < this.M.length; i++) this.M[i]! += sign * c.mem[i]!;
    for (let i = 0; i < this.z.length; i++) this.z[i]! += sign * c.z[i]!;
  }
}

function sameTokens(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
