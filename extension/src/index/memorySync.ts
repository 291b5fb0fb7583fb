// Keeps the per-workspace compressed memory (extension/src/memory) in step with the indexed files. Optional:
// it runs the whole-file sparse encoder over every file, the slowest part of indexing on a small CPU.
//
// Which version of each file the memory holds is kept in a sidecar (path → content hash) written after the
// memory file. A crash between the two leaves the sidecar behind the memory, never ahead of it in a way that
// matters: WorkspaceMemory.setFile ignores a file whose tokens it already has, and removeFile one it lacks.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Cancellation, IndexProgress, Logger } from '../core/api.js';
import { WorkspaceMemory } from '../memory/workspaceMemory.js';
import type { Locked } from './embedder.js';
import type { SemanticEncoder } from '../../../kernels/runtime/encoder.js';
import type { IndexStore } from './store.js';

/** Files per encoder request (each is its own run when contributions are asked for). */
const FILES_PER_REQUEST = 8;
/** Save at least this often during a long first pass, so a restart keeps most of the work. */
const SAVE_EVERY_MS = 30_000;

export class MemorySync {
  private constructor(readonly memory: WorkspaceMemory, private readonly sidecarFile: string, private held: Map<string, string>) {}

  static open(storageDir: string, encoder: SemanticEncoder, modelTag: string, logger: Logger): MemorySync {
    const c = encoder.info.config;
    const memory = WorkspaceMemory.open(path.join(storageDir, 'memory.bin'), {
      shape: { layers: c.n_layers, kvHeads: c.n_kv_heads, dk: c.d_head, dv: c.d_head }, tag: modelTag,
      encode: (ids) => encoder.contribution(ids), log: (m) => logger.info(m),
    });
    const sidecar = path.join(storageDir, 'memory-files.json');
    let held = new Map<string, string>();
    if (!memory.needsRebuild) {
      try {
        held = new Map(Object.entries(JSON.parse(fs.readFileSync(sidecar, 'utf8')) as Record<string, string>));
      } catch {
        held = new Map(); // lost sidecar: every file is offered again; setFile skips those the memory holds
      }
    }
    return new MemorySync(memory, sidecar, held);
  }

  /** The memory as the query graph takes it. */
  state(): { mem: Float32Array; z: Float32Array } {
    return this.memory.state();
  }

  get fileCount(): number {
    return this.memory.fileCount;
  }

  /** Adds, updates and removes files so the memory matches the store's indexed files. */
  async run(root: string, store: IndexStore, encoder: SemanticEncoder, lock: Locked,
    onProgress?: (p: IndexProgress) => void, cancellation?: Cancellation): Promise<{ changed: number; cancelled: boolean }> {
    const want = await lock(() => store.indexedFiles());
    const gone = [...this.held.keys()].filter((p) => !want.has(p));
    const todo = [...want].filter(([p, h]) => this.held.get(p) !== h);
    let changed = 0, lastSave = Date.now();
    const total = gone.length + todo.length;
    for (const p of gone) {
      if (cancellation?.isCancellationRequested) return this.finish(changed, true);
      await this.memory.removeFile(p);
      this.held.delete(p);
      changed++;
    }
    for (let i = 0; i < todo.length; i += FILES_PER_REQUEST) {
      if (cancellation?.isCancellationRequested) return this.finish(changed, true);
      onProgress?.({ phase: 'encode', filesDone: changed, filesTotal: total, message: 'workspace memory' });
      const files: { path: string; text: string; hash: string }[] = [];
      for (const [p, hash] of todo.slice(i, i + FILES_PER_REQUEST)) {
        let bytes: Buffer | undefined;
        try { bytes = fs.readFileSync(path.join(root, ...p.split('/'))); } catch { bytes = undefined; }
        // Changed since it was indexed: the next lexical pass updates its hash and we come back to it.
        if (!bytes || createHash('sha256').update(bytes).digest('hex') !== hash) continue;
        let text = utf8.decode(bytes);
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        files.push({ path: p, text, hash });
      }
      const res = await encoder.encodeFiles(files.map((f) => ({ path: f.path, text: f.text, chunks: [] })), true);
      for (let k = 0; k < res.length; k++) {
        await this.memory.setFile(res[k]!.path, res[k]!.tokenIds, res[k]!.contribution);
        this.held.set(files[k]!.path, files[k]!.hash);
        changed++;
      }
      if (Date.now() - lastSave > SAVE_EVERY_MS) { this.save(); lastSave = Date.now(); }
    }
    return this.finish(changed, false);
  }

  private finish(changed: number, cancelled: boolean): { changed: number; cancelled: boolean } {
    if (changed > 0 || this.memory.needsRebuild) this.save();
    return { changed, cancelled };
  }

  /** Memory first, then the sidecar (see the top of this file for why that order is safe). */
  save(): void {
    this.memory.needsRebuild = false;
    this.memory.save();
    const tmp = `${this.sidecarFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.held)));
    fs.renameSync(tmp, this.sidecarFile);
  }
}

const utf8 = new TextDecoder('utf-8');
