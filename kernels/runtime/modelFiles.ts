// What kernels/model/ holds and the model config the runtime needs (from model-card.json).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

export interface ModelConfig {
  vocab: number; d_model: number; n_layers: number; n_heads: number; n_kv_heads: number; d_head: number;
  d_ff: number; seg_len: number; block: number; window: number; global: number; random: number;
  memory_rule: 'linear' | 'delta'; emb_dim: number; rope_base: number;
}

export type GraphName = 'encoder' | 'encoder_dense' | 'query' | 'lens';
export type Precision = 'fp32' | 'fp16';

/** Reads the config from model-card.json (top level or under "config"; n_global/n_random accepted). */
export function readModelConfig(modelDir: string): ModelConfig {
  const file = path.join(modelDir, 'model-card.json');
  if (!existsSync(file)) throw new Error(`no model in ${modelDir}: model-card.json is missing`);
  const card = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const c = (typeof card.config === 'object' && card.config ? card.config : card) as Record<string, unknown>;
  const num = (k: string, ...alt: string[]): number => {
    for (const key of [k, ...alt]) if (typeof c[key] === 'number') return c[key] as number;
    throw new Error(`model-card.json: missing number "${k}"`);
  };
  const cfg: ModelConfig = {
    vocab: num('vocab'), d_model: num('d_model'), n_layers: num('n_layers'), n_heads: num('n_heads'),
    n_kv_heads: num('n_kv_heads'), d_head: num('d_head'), d_ff: num('d_ff'), seg_len: num('seg_len'),
    block: num('block'), window: num('window'), global: num('global', 'n_global'), random: num('random', 'n_random'),
    memory_rule: c.memory_rule === 'delta' ? 'delta' : 'linear', emb_dim: num('emb_dim'),
    rope_base: typeof c.rope_base === 'number' ? c.rope_base : 10000,
  };
  if (cfg.seg_len % cfg.block !== 0) throw new Error('model-card.json: seg_len is not a multiple of block');
  return cfg;
}

/** The graph file for a precision, or undefined if the model does not ship it. */
export function graphFile(modelDir: string, graph: GraphName, precision: Precision): string | undefined {
  const f = path.join(modelDir, `${graph}.${precision}.onnx`);
  return existsSync(f) ? f : undefined;
}

export function hasModel(modelDir: string): boolean {
  return existsSync(path.join(modelDir, 'model-card.json')) && existsSync(path.join(modelDir, 'tokenizer.json'))
    && graphFile(modelDir, 'encoder', 'fp32') !== undefined;
}

/** A short identity of the shipped model (hash of its card, which lists the files' hashes): memory files key on it. */
export function modelTag(modelDir: string): string {
  const card = readFileSync(path.join(modelDir, 'model-card.json'));
  return createHash('sha256').update(card).digest('hex').slice(0, 16);
}

/** A model file is missing or differs from the size and sha256 that model-card.json lists for it. */
export class ModelFileError extends Error {}

/**
 * Checks every file model-card.json lists under "files" (bytes and sha256) before anything is loaded: a damaged or
 * altered weight file must not produce vectors that are then stored under this model's tag. Throws ModelFileError
 * naming each file that does not match. A card without a file list (test models) has nothing to check.
 */
export function verifyModelFiles(modelDir: string): void {
  const card = JSON.parse(readFileSync(path.join(modelDir, 'model-card.json'), 'utf8')) as { files?: Record<string, { bytes?: number; sha256?: string }> };
  const bad: string[] = [];
  for (const [name, want] of Object.entries(card.files ?? {})) {
    const file = path.join(modelDir, name);
    if (!existsSync(file)) {
      bad.push(`${name} is missing`);
      continue;
    }
    const bytes = readFileSync(file);
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (want.bytes !== undefined && bytes.length !== want.bytes) bad.push(`${name} has ${bytes.length} bytes, the card says ${want.bytes}`);
    else if (want.sha256 !== undefined && sha !== want.sha256) bad.push(`${name} has sha256 ${sha.slice(0, 16)}…, the card says ${want.sha256.slice(0, 16)}…`);
  }
  if (bad.length) {
    throw new ModelFileError(`the model in ${modelDir} does not match its model-card.json (${bad.join('; ')}): ` +
      'the files are damaged or were changed, so the encoder is not used');
  }
}
