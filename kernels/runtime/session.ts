// In-process encoder over onnxruntime-node: tokenizes, batches segments into runs, carries the memory across
// runs of a long file, pools chunk embeddings. The worker (worker.ts) hosts one of these off the caller's
// event loop; tests may use it directly.
import * as ort from 'onnxruntime-node';
import { randomBlocks } from './random.js';
import { graphFile, readModelConfig, verifyModelFiles, type GraphName, type ModelConfig, type Precision } from './modelFiles.js';
import { openFirstWorking, sessionOptions, type ProviderName, type ProviderSetting } from './providers.js';
import { chunkStream, CUT_CHARS_PER_TOKEN, planChunkBatches, readRetrievalConfig, type RetrievalConfig } from './chunks.js';
import { chunkTokens, docStream, meanPool, planRuns, runInputs, type DocStream } from './segments.js';
import { fromHalf, toHalf } from './tensors.js';
import { CodeTokenizer, SPECIAL } from './tokenizer.js';

export const INFERENCE_SEED = 1234;

/** Padded tokens per chunk batch on the CPU. The query graph's attention is dense, so a batch's activations grow
 * with tokens x width and onnxruntime's arena keeps its largest: 8,192 (the GPU budget) held the process at
 * 742 MB RSS on 79 chunks of repo code, 2,048 at 403 MB, no slower (vectors equal within 3e-8). */
export const CPU_BATCH_TOKENS = 2048;

export interface FileInput { path: string; text: string; chunks: { startOffset: number; endOffset: number }[] }
export interface Contribution {
  mem: Float32Array; // [L, Hkv, 64, 64] Σ σ(k)ᵀv over the file's segments
  z: Float32Array;   // [L, Hkv, 64]
}
export interface FileResult {
  path: string;
  chunkEmbeddings: Float32Array; // [chunks, E] L2-normalised
  tokenIds: Int32Array;          // [n] the file's tokens without <doc> (the memory module keeps them)
  contribution?: Contribution;   // only when asked for (one file per run then)
}
export interface EncoderOptions {
  provider?: ProviderSetting;
  /** Segments per run (batch). Default 8 on CPU, 16 on a GPU (measured on an H200 with WebGPU, fp16, one long
   *  file: 16 a run 375k tokens/s at 1M tokens against 127k with 64 and 63k with 256; docs/gpu.md). */
  maxSegments?: number;
  threads?: number;
  log?: (msg: string) => void;
}
export interface SessionInfo { provider: ProviderName; precision: Precision; skipped: { provider: ProviderName; reason: string }[]; config: ModelConfig }

type Feeds = Record<string, ort.Tensor>;

export class EncoderSession {
  private readonly graphs = new Map<GraphName, ort.InferenceSession>();
  readonly randBlocks: ort.Tensor; // [L, H, nb, r] int64, seeded (CONTRACT: inference seed 1234)
  stats = { tokens: 0, segments: 0, runs: 0, runMs: 0 };
  private retrieval?: RetrievalConfig;

  private constructor(readonly modelDir: string, readonly tokenizer: CodeTokenizer, readonly info: SessionInfo,
    encoder: ort.InferenceSession, private readonly opts: EncoderOptions) {
    this.graphs.set('encoder', encoder);
    const c = info.config, nb = c.seg_len / c.block;
    const rb = randomBlocks(INFERENCE_SEED, c.n_layers, c.n_heads, nb, c.window, c.global, c.random);
    this.randBlocks = new ort.Tensor('int64', BigInt64Array.from(rb, (x) => BigInt(x)), [c.n_layers, c.n_heads, nb, c.random]);
  }

  static async open(modelDir: string, opts: EncoderOptions = {}): Promise<EncoderSession> {
    const config = readModelConfig(modelDir);
    verifyModelFiles(modelDir); // before any graph or weight is read: never embed with altered files
    const tokenizer = CodeTokenizer.load(modelDir);
    let probeSession: EncoderSession | undefined;
    const opened = await openFirstWorking(opts.provider ?? 'auto',
      async (provider, want) => {
        const precision = graphFile(modelDir, 'encoder', want) ? want : 'fp32';
        const file = graphFile(modelDir, 'encoder', precision);
        if (!file) throw new Error(`${modelDir} has no encoder.${precision}.onnx`);
        return { value: await ort.InferenceSession.create(file, sessionOptions(provider, opts.threads)), precision };
      },
      async (s) => {
        probeSession = new EncoderSession(modelDir, tokenizer, { provider: 'cpu', precision: 'fp32', skipped: [], config }, s, opts);
        await probeSession.contribution(new Int32Array([SPECIAL.doc]));
      });
    opts.log?.(`encoder: provider ${opened.provider} (${opened.precision})` +
      (opened.skipped.length ? `; skipped ${opened.skipped.map((s) => `${s.provider} (${s.reason})`).join(', ')}` : ''));
    return new EncoderSession(modelDir, tokenizer, { ...opened, config, skipped: opened.skipped }, opened.value, opts);
  }

  get maxSegments(): number {
    return this.opts.maxSegments ?? (this.info.provider === 'cpu' ? 8 : 16);
  }

  /** Chunk embeddings of many files; with contributions, each run holds one file so mem_sum is its own. */
  async encodeFiles(files: FileInput[], contributions = false): Promise<FileResult[]> {
    const docs = files.map((f) => docStream(this.tokenizer.encode(f.text)));
    const { emb, contribs } = await this.runDocs(docs, contributions);
    const E = this.info.config.emb_dim;
    return files.map((f, i) => {
      const doc = docs[i]!, rows = emb[i]!;
      const chunkEmbeddings = new Float32Array(f.chunks.length * E); // [chunks, E]
      f.chunks.forEach((c, k) => chunkEmbeddings.set(
        meanPool((t) => rows.subarray(t * E, (t + 1) * E), chunkTokens(doc, c.startOffset, c.endOffset), E), k * E));
      return { path: f.path, chunkEmbeddings, tokenIds: doc.ids.slice(1), ...(contribs ? { contribution: contribs[i]! } : {}) };
    });
  }

  /** A file's contribution to the workspace memory from its token ids (without <doc>). */
  async contribution(tokenIds: Int32Array): Promise<Contribution> {
    const ids = new Int32Array(tokenIds.length + 1);
    ids[0] = SPECIAL.doc; ids.set(tokenIds, 1);
    const doc: DocStream = { ids, starts: new Int32Array(ids.length), ends: new Int32Array(ids.length) };
    return (await this.runDocs([doc], true)).contribs![0]!;
  }

  /**
   * Runs docs through the encoder graph. Returns per doc its token embeddings [n, E] (n = its stream length)
   * and, when asked, its memory contribution.
   */
  private async runDocs(docs: DocStream[], contributions: boolean): Promise<{ emb: Float32Array[]; contribs?: Contribution[] }> {
    const c = this.info.config, T = c.seg_len, E = c.emb_dim;
    const memShape = [c.n_layers, c.n_kv_heads, c.d_head, c.d_head], zShape = [c.n_layers, c.n_kv_heads, c.d_head];
    const emb = docs.map((d) => new Float32Array(d.ids.length * E));
    const contribs = contributions ? docs.map(() => ({ mem: new Float32Array(size(memShape)), z: new Float32Array(size(zShape)) })) : undefined;
    let carry: Contribution = { mem: new Float32Array(size(memShape)), z: new Float32Array(size(zShape)) };
    for (const run of planRuns(docs.map((d) => d.ids.length), T, this.maxSegments, contributions)) {
      const { ids, valid, segDoc } = runInputs(run, docs, T);
      const continues = run.pieces[0]!.continues;
      const out = await this.run('encoder', {
        input_ids: new ort.Tensor('int64', ids, [run.segments, T]),
        valid: await this.floatTensor('encoder', 'valid', valid, [run.segments, T]),
        seg_doc: new ort.Tensor('int64', segDoc, [run.segments]),
        rand_blocks: this.randBlocks,
        mem_in: await this.floatTensor('encoder', 'mem_in', continues ? carry.mem : new Float32Array(size(memShape)), memShape),
        z_in: await this.floatTensor('encoder', 'z_in', continues ? carry.z : new Float32Array(size(zShape)), zShape),
      });
      const e = floats(out.emb!); // [S, T, E]
      let s = 0;
      for (const p of run.pieces) {
        const dst = emb[p.doc]!, n = docs[p.doc]!.ids.length;
        for (let k = 0; k < p.segments; k++, s++) {
          const from = (p.firstSegment + k) * T, len = Math.min(T, n - from);
          dst.set(e.subarray(s * T * E, (s * T + len) * E), from * E);
        }
      }
      carry = { mem: floats(out.mem_out!), z: floats(out.z_out!) };
      if (contribs) addTo(contribs[run.pieces[0]!.doc]!, floats(out.mem_sum!), floats(out.z_sum!));
      this.stats.segments += run.segments;
      this.stats.tokens += run.pieces.reduce((a, p) => a + Math.min(p.segments * T, docs[p.doc]!.ids.length - p.firstSegment * T), 0);
    }
    return { emb, contribs };
  }

  /**
   * Retrieval embeddings of chunks, each encoded alone through the query graph (<doc> + its tokens, cut to the
   * model's max_chunk_tokens, zero memory), batched by length so little is padded. [n, E], rows L2-normalised.
   */
  async encodeChunks(texts: string[]): Promise<Float32Array> {
    const c = this.info.config, E = c.emb_dim;
    this.retrieval ??= readRetrievalConfig(this.modelDir);
    const max = this.retrieval.maxChunkTokens;
    const streams = texts.map((t) => {
      let ids = this.tokenizer.encode(t.slice(0, max * CUT_CHARS_PER_TOKEN)).ids;
      if (ids.length < max + 8 && t.length > max * CUT_CHARS_PER_TOKEN) ids = this.tokenizer.encode(t).ids;
      return chunkStream(ids, this.retrieval);
    });
    const memShape = [c.n_layers, c.n_kv_heads, c.d_head, c.d_head], zShape = [c.n_layers, c.n_kv_heads, c.d_head];
    const mem = await this.floatTensor('query', 'mem_in', new Float32Array(size(memShape)), memShape);
    const z = await this.floatTensor('query', 'z_in', new Float32Array(size(zShape)), zShape);
    const out = new Float32Array(texts.length * E); // [n, E]
    for (const b of planChunkBatches(streams.map((s) => s.length), this.info.provider === 'cpu' ? CPU_BATCH_TOKENS : undefined, undefined, max)) {
      // A batch of one row takes another kernel path on the CPU, whose last bits differ from the same row's in any
      // larger batch: it runs as two copies, so a chunk's vector does not depend on what it was batched with (a
      // sharded build must equal a single one bit for bit: extension/src/index/shards.ts).
      const B = b.items.length, W = b.width, R = Math.max(B, 2);
      const rows = B === 1 ? [b.items[0]!, b.items[0]!] : b.items;
      const ids = new BigInt64Array(R * W), valid = new Float32Array(R * W); // [R, W]
      rows.forEach((item, r) => streams[item]!.forEach((id, t) => { ids[r * W + t] = BigInt(id); valid[r * W + t] = 1; }));
      const res = await this.run('query', {
        input_ids: new ort.Tensor('int64', ids, [R, W]), valid: await this.floatTensor('query', 'valid', valid, [R, W]), mem_in: mem, z_in: z,
      });
      const q = floats(res.qemb!); // [B, E]
      b.items.forEach((item, r) => out.set(q.subarray(r * E, (r + 1) * E), item * E));
      this.stats.tokens += b.items.reduce((a, i) => a + streams[i]!.length, 0);
      this.stats.segments += B;
    }
    return out;
  }

  /** Query embeddings [Bq, E] (L2-normalised by the graph), reading the workspace memory when given. */
  async encodeQueries(texts: string[], memory?: Contribution): Promise<Float32Array[]> {
    const c = this.info.config, E = c.emb_dim;
    const streams = texts.map((t) => docStream(this.tokenizer.encode(t), SPECIAL.qry).ids.subarray(0, c.seg_len));
    const Tq = Math.max(...streams.map((s) => s.length));
    const ids = new BigInt64Array(texts.length * Tq), valid = new Float32Array(texts.length * Tq);
    streams.forEach((s, b) => s.forEach((id, t) => { ids[b * Tq + t] = BigInt(id); valid[b * Tq + t] = 1; }));
    const memShape = [c.n_layers, c.n_kv_heads, c.d_head, c.d_head], zShape = [c.n_layers, c.n_kv_heads, c.d_head];
    const out = await this.run('query', {
      input_ids: new ort.Tensor('int64', ids, [texts.length, Tq]),
      valid: await this.floatTensor('query', 'valid', valid, [texts.length, Tq]),
      mem_in: await this.floatTensor('query', 'mem_in', memory?.mem ?? new Float32Array(size(memShape)), memShape),
      z_in: await this.floatTensor('query', 'z_in', memory?.z ?? new Float32Array(size(zShape)), zShape),
    });
    const q = floats(out.qemb!);
    return texts.map((_, b) => q.slice(b * E, (b + 1) * E));
  }

  /** Raw run of a graph by name (opened lazily with the provider and precision the encoder got); `fetches`: only these outputs. */
  async run(graph: GraphName, feeds: Feeds, fetches?: string[]): Promise<Record<string, ort.Tensor>> {
    const session = await this.graph(graph);
    const t0 = performance.now();
    const out = await (fetches ? session.run(feeds, fetches) : session.run(feeds)) as Record<string, ort.Tensor>;
    this.stats.runs++; this.stats.runMs += performance.now() - t0;
    return out;
  }

  private async graph(name: GraphName): Promise<ort.InferenceSession> {
    let s = this.graphs.get(name);
    if (!s) {
      // The lens and dense graphs ship in fp32 only; the others follow the encoder's precision when present.
      const file = graphFile(this.modelDir, name, this.info.precision) ?? graphFile(this.modelDir, name, 'fp32');
      if (!file) throw new Error(`${this.modelDir} has no ${name} graph`);
      s = await ort.InferenceSession.create(file, sessionOptions(this.info.provider, this.opts.threads));
      this.graphs.set(name, s);
    }
    return s;
  }

  /** A float input in the type the graph declares (float16 graphs may take half inputs). */
  async floatTensor(graph: GraphName, input: string, data: Float32Array, dims: number[]): Promise<ort.Tensor> {
    const meta = (await this.graph(graph)).inputMetadata.find((m) => m.name === input);
    return meta?.isTensor && meta.type === 'float16' ? new ort.Tensor('float16', toHalf(data), dims) : new ort.Tensor('float32', data, dims);
  }

  async close(): Promise<void> {
    for (const s of this.graphs.values()) await s.release();
    this.graphs.clear();
  }
}

export function floats(t: ort.Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') return fromHalf(t.data as Uint16Array);
  throw new Error(`expected a float tensor, got ${t.type}`);
}
function size(shape: number[]): number { return shape.reduce((a, b) => a * b, 1); }
function addTo(c: Contribution, mem: Float32Array, z: Float32Array): void {
  for (let i = 0; i < mem.length; i++) c.mem[i]! += mem[i]!;
  for (let i = 0; i < z.length; i++) c.z[i]! += z[i]!;
}
