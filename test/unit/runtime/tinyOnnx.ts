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

function valueInfo(name: string, elem: number, dims: Dim[]): number[] {
  const shape = dims.flatMap((d) => bytes(1, typeof d === 'number' ? int(1, d) : str(2, d)));
  return [...str(1, name), ...bytes(2, bytes(1, [...int(1, elem), ...bytes(2, shape)]))];
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
