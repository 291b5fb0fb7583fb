// Writes small ONNX models with the contract's input/output names, so the runtime's plumbing (providers,
// batching, memory carry, pooling, worker) can be tested without the trained model. onnxruntime-node can
// run graphs but not build them, so this encodes the ONNX protobuf directly (only the fields used here).
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

// ---- protobuf wire format
function varint(n: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do { let b = Number(v & 0x7fn); v >>= 7n; if (v) b |= 0x80; out.push(b); } while (v);
  return out;
}
const field = (no: number, wire: number) => varint((no << 3) | wire);
const int = (no: number, v: number | bigint) => [...field(no, 0), ...varint(v)];
const bytes = (no: number, b: number[] | Uint8Array) => [...field(no, 2), ...varint(b.length), ...b];
const str = (no: number, s: string) => bytes(no, Array.from(Buffer.from(s, 'utf8')));

const FLOAT = 1, INT64 = 7;
type Dim = number | string;

/** dims null: shape unknown (no shape field), so onnxruntime infers it. */
function valueInfo(name: string, elem: number, dims: Dim[] | null): number[] {
  const shape = dims ? bytes(2, dims.flatMap((d) => bytes(1, typeof d === 'number' ? int(1, d) : str(2, d)))) : [];
  return [...str(1, name), ...bytes(2, bytes(1, [...int(1, elem), ...shape]))];
}
function tensor(name: string, elem: number, dims: number[], data: Float32Array | BigInt64Array): number[] {
  return [...dims.flatMap((d) => int(1, d)), ...int(2, elem), ...str(8, name),
    ...bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))];
}
function node(op: string, inputs: string[], outputs: string[], attrs: number[][] = []): number[] {
  return [...inputs.flatMap((i) => str(1, i)), ...outputs.flatMap((o) => str(2, o)), ...str(4, op), ...attrs.flatMap((a) => bytes(5, a))];
}
const attrInt = (name: string, v: number) => [...str(1, name), ...int(20, 2), ...int(3, v)];

function model(nodes: number[][], inits: number[][], inputs: number[][], outputs: number[][]): Uint8Array {
  const graph = [...nodes.flatMap((n) => bytes(1, n)), ...str(2, 'tiny'), ...inits.flatMap((t) => bytes(5, t)),
    ...inputs.flatMap((i) => bytes(11, i)), ...outputs.flatMap((o) => bytes(12, o))];
  return Uint8Array.from([...int(1, 8), ...str(2, 'infini-lens-tests'), ...bytes(7, graph), ...bytes(8, [...str(1, ''), ...int(2, 17)])]);
}

export interface TinyModel { L: number; Hkv: number; H: number; D: number; E: number; V: number; T: number; block: number; table: Float32Array }

/**
 * A fake model dir: emb = table[input_ids] (so pooled chunk embeddings are checkable), mem_sum = z_sum = the
 * batch's valid-token count everywhere, mem_out = mem_in + mem_sum; query: qemb = L2-normalised Σ table[ids].
 */
export function writeTinyModel(dir: string, tokenizerJson: object, m: Omit<TinyModel, 'table'>): TinyModel {
  const table = Float32Array.from({ length: m.V * m.E }, (_, i) => (i < m.E ? 0 : Math.sin(i * 12.9898) * 43758.5453 % 1));
  const memShape = [m.L, m.Hkv, m.D, m.D], zShape = [m.L, m.Hkv, m.D];
  const shapes = [tensor('mem_shape', INT64, [4], BigInt64Array.from(memShape, BigInt)), tensor('z_shape', INT64, [3], BigInt64Array.from(zShape, BigInt))];
  const enc = model([
    node('Gather', ['table', 'input_ids'], ['emb'], [attrInt('axis', 0)]),
    node('ReduceSum', ['valid'], ['count'], [attrInt('keepdims', 0)]),
    node('Expand', ['count', 'mem_shape'], ['mem_sum']),
    node('Expand', ['count', 'z_shape'], ['z_sum']),
    node('Add', ['mem_in', 'mem_sum'], ['mem_out']),
    node('Add', ['z_in', 'z_sum'], ['z_out']),
  ], [tensor('table', FLOAT, [m.V, m.E], table), ...shapes], [
    valueInfo('input_ids', INT64, ['S', m.T]), valueInfo('valid', FLOAT, ['S', m.T]), valueInfo('seg_doc', INT64, ['S']),
    valueInfo('rand_blocks', INT64, [m.L, m.H, m.T / m.block, 2]), valueInfo('mem_in', FLOAT, memShape), valueInfo('z_in', FLOAT, zShape),
  ], [valueInfo('emb', FLOAT, ['S', m.T, m.E]), valueInfo('mem_out', FLOAT, memShape), valueInfo('z_out', FLOAT, zShape),
    valueInfo('mem_sum', FLOAT, memShape), valueInfo('z_sum', FLOAT, zShape)]);
  const query = model([
    node('Gather', ['table', 'input_ids'], ['g'], [attrInt('axis', 0)]),
    node('ReduceSum', ['g', 'axis1'], ['s'], [attrInt('keepdims', 0)]),
    node('LpNormalization', ['s'], ['qemb'], [attrInt('axis', -1), attrInt('p', 2)]),
  ], [tensor('table', FLOAT, [m.V, m.E], table), tensor('axis1', INT64, [1], BigInt64Array.of(1n))], [
    valueInfo('input_ids', INT64, ['B', 'Tq']), valueInfo('valid', FLOAT, ['B', 'Tq']),
    valueInfo('mem_in', FLOAT, memShape), valueInfo('z_in', FLOAT, zShape),
  ], [valueInfo('qemb', FLOAT, ['B', m.E])]);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'encoder.fp32.onnx'), enc);
  writeFileSync(path.join(dir, 'query.fp32.onnx'), query);
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(path.join(dir, 'model-card.json'), JSON.stringify({ config: {
    vocab: m.V, d_model: 16, n_layers: m.L, n_heads: m.H, n_kv_heads: m.Hkv, d_head: m.D, d_ff: 32, seg_len: m.T,
    block: m.block, window: 3, n_global: 2, n_random: 2, memory_rule: 'linear', emb_dim: m.E } }));
  return { ...m, table };
}

/**
 * A fake lens graph beside the tiny model: σ(q) = tableQ[ids] and σ(k) = tableK[ids] broadcast over layers and
 * heads, mem_out = mem_in + n_valid, z_out = z_in + n_valid; probs, key_blocks, global_probs, gates are zeros of
 * the contract's shapes. Enough to check the lens' segment chaining and the recall weights.
 */
export function writeTinyLens(dir: string, m: TinyModel): { tableQ: Float32Array; tableK: Float32Array } {
  const nb = m.T / m.block, K = 7, g = 2;
  const rnd = (salt: number) => Float32Array.from({ length: m.V * m.D }, (_, i) => 0.1 + Math.abs(Math.sin((i + salt) * 78.233)));
  const tableQ = rnd(1), tableK = rnd(2);
  const memShape = [m.L, m.Hkv, m.D, m.D], zShape = [m.L, m.Hkv, m.D];
  const i64 = (name: string, v: number[]) => tensor(name, INT64, [v.length], BigInt64Array.from(v, BigInt));
  const lens = model([
    node('Gather', ['tableQ', 'input_ids'], ['gq'], [attrInt('axis', 0)]),          // [1, T, D]
    node('Gather', ['tableK', 'input_ids'], ['gk'], [attrInt('axis', 0)]),
    node('Expand', ['gq', 'sq_shape'], ['sigma_q']),
    node('Expand', ['gk', 'sk_shape'], ['sigma_k']),
    node('ReduceSum', ['valid'], ['count'], [attrInt('keepdims', 0)]),
    node('Expand', ['count', 'mem_shape'], ['mem_add']),
    node('Expand', ['count', 'z_shape'], ['z_add']),
    node('Add', ['mem_in', 'mem_add'], ['mem_out']),
    node('Add', ['z_in', 'z_add'], ['z_out']),
    node('Expand', ['zero', 'probs_shape'], ['probs']),
    node('Expand', ['zero', 'gp_shape'], ['global_probs']),
    node('Expand', ['zero', 'gates_shape'], ['gates']),
    node('Expand', ['zero_i', 'kb_shape'], ['key_blocks']),
  ], [
    tensor('tableQ', FLOAT, [m.V, m.D], tableQ), tensor('tableK', FLOAT, [m.V, m.D], tableK),
    tensor('zero', FLOAT, [], Float32Array.of(0)), tensor('zero_i', INT64, [], BigInt64Array.of(-1n)),
    i64('sq_shape', [m.L, m.H, m.T, m.D]), i64('sk_shape', [m.L, m.Hkv, m.T, m.D]), i64('mem_shape', memShape), i64('z_shape', zShape),
    i64('probs_shape', [m.L, m.H, nb, m.block, K * m.block]), i64('gp_shape', [m.L, m.H, g * m.block, m.T]),
    i64('gates_shape', [m.L, m.H]), i64('kb_shape', [m.L, m.H, nb, K]),
  ], [
    valueInfo('input_ids', INT64, [1, m.T]), valueInfo('valid', FLOAT, [1, m.T]), valueInfo('rand_blocks', INT64, [m.L, m.H, nb, 2]),
    valueInfo('mem_in', FLOAT, memShape), valueInfo('z_in', FLOAT, zShape),
  ], ['probs', 'key_blocks', 'global_probs', 'gates', 'sigma_q', 'sigma_k', 'mem_out', 'z_out'].map((n) => valueInfo(n, n === 'key_blocks' ? INT64 : FLOAT, null)));
  writeFileSync(path.join(dir, 'lens.fp32.onnx'), lens);
  return { tableQ, tableK };
}
