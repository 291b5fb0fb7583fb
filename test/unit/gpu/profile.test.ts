// The onnxruntime profile summary of the GPU harness (scripts/gpu/profile.ts): on a real profile written here by
// the CPU provider for the shipped query graph, and on hand-made events with several providers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { hasModel, readModelConfig } from '../../../kernels/runtime/modelFiles.js';
import { profilerProviderName, readProfile, summarizeProfile, type ProfileEvent } from '../../../scripts/gpu/profile.js';

const MODEL = path.join(__dirname, '../../../kernels/model');
const noModel = hasModel(MODEL) ? false : 'kernels/model/ has no model yet';

test('a real CPU profile of the query graph: every node on the CPU, once per run, top nodes by time', { skip: noModel }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ort-prof-'));
  try {
    const s = await ort.InferenceSession.create(path.join(MODEL, 'query.fp32.onnx'),
      { executionProviders: ['cpu'], intraOpNumThreads: 1, enableProfiling: true, profileFilePrefix: path.join(dir, 'q') });
    const c = readModelConfig(MODEL);
    const B = 2, W = 24, L = c.n_layers, G = c.n_kv_heads, D = c.d_head;
    const feeds = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from({ length: B * W }, (_, i) => BigInt(4 + ((i * 37) % 8000))), [B, W]),
      valid: new ort.Tensor('float32', new Float32Array(B * W).fill(1), [B, W]),
      mem_in: new ort.Tensor('float32', new Float32Array(L * G * D * D), [L, G, D, D]),
      z_in: new ort.Tensor('float32', new Float32Array(L * G * D), [L, G, D]),
    };
    const runs = 3;
    for (let i = 0; i < runs; i++) await s.run(feeds);
    s.endProfiling();
    await s.release();
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    assert.equal(files.length, 1, 'one profile file');
    const events = readProfile(path.join(dir, files[0]!));
    const onCpu = summarizeProfile(events, profilerProviderName('cpu'));
    assert.deepEqual(Object.keys(onCpu.nodesPerProvider), ['CPUExecutionProvider']);
    const nodes = onCpu.nodesPerProvider.CPUExecutionProvider!;
    assert.ok(nodes > 50, `the query graph has many nodes (got ${nodes})`);
    assert.equal(onCpu.eventsPerProvider.CPUExecutionProvider, nodes * runs, 'each node ran once per run');
    assert.deepEqual(onCpu.cpuFallback, [], 'a CPU session has no fallback');
    assert.equal(onCpu.topNodes.length, 5);
    for (let i = 1; i < 5; i++) assert.ok(onCpu.topNodes[i - 1]!.us >= onCpu.topNodes[i]!.us, 'sorted by time');
    assert.ok(onCpu.topNodes.every((n) => n.calls === runs && n.share > 0 && n.share <= 1));
    assert.equal(onCpu.totalNodeUs, onCpu.usPerProvider.CPUExecutionProvider);
    assert.ok(onCpu.session.some((e) => e.name === 'model_run'), 'session events kept');
    // read as if the session had asked for WebGPU: every node is then a CPU fallback, named with its op
    const asGpu = summarizeProfile(events, profilerProviderName('webgpu'));
    assert.equal(asGpu.cpuFallback.length, nodes);
    assert.equal(Object.values(asGpu.cpuFallbackOps).reduce((a, b) => a + b, 0), nodes);
    assert.ok((asGpu.cpuFallbackOps.MatMul ?? 0) + (asGpu.cpuFallbackOps.FusedMatMul ?? 0) > 0, 'matrix products among them');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mixed providers: per-provider counts, the fallback list, grouping by op and other event categories', () => {
  const ev = (name: string, op: string, provider: string, dur: number): ProfileEvent =>
    ({ cat: 'Node', name: `${name}_kernel_time`, dur, args: { op_name: op, provider } });
  const events: ProfileEvent[] = [
    { cat: 'Session', name: 'model_run', dur: 1000 },
    ev('/a/MatMul', 'MatMul', 'WebGpuExecutionProvider', 300), ev('/a/MatMul', 'MatMul', 'WebGpuExecutionProvider', 100),
    ev('/b/MatMul', 'MatMul', 'WebGpuExecutionProvider', 50),
    ev('/c/Range', 'Range', 'CPUExecutionProvider', 40), ev('/d/NonZero', 'NonZero', 'CPUExecutionProvider', 10),
    ev('/e/Softmax', 'Softmax', 'WebGpuExecutionProvider', 200),
    { cat: 'Kernel', name: 'MatMul_shader', dur: 70 }, { cat: 'Kernel', name: 'MatMul_shader', dur: 30 }, { cat: 'Api', name: 'x', dur: 5 },
  ];
  const s = summarizeProfile(events, 'WebGpuExecutionProvider', 3);
  assert.deepEqual(s.nodesPerProvider, { WebGpuExecutionProvider: 3, CPUExecutionProvider: 2 });
  assert.deepEqual(s.eventsPerProvider, { WebGpuExecutionProvider: 4, CPUExecutionProvider: 2 });
  assert.deepEqual(s.usPerProvider, { WebGpuExecutionProvider: 650, CPUExecutionProvider: 50 });
  assert.equal(s.totalNodeUs, 700);
  assert.deepEqual(s.cpuFallback, [{ node: '/c/Range', op: 'Range' }, { node: '/d/NonZero', op: 'NonZero' }]);
  assert.deepEqual(s.cpuFallbackOps, { Range: 1, NonZero: 1 });
  assert.deepEqual(s.topNodes.map((n) => [n.node, n.us, n.calls]), [['/a/MatMul', 400, 2], ['/e/Softmax', 200, 1], ['/b/MatMul', 50, 1]]);
  assert.equal(s.topNodes[0]!.share, 400 / 700);
  assert.deepEqual(s.topOps.map((o) => [o.op, o.provider, o.us, o.nodes]),
    [['MatMul', 'WebGpuExecutionProvider', 450, 2], ['Softmax', 'WebGpuExecutionProvider', 200, 1], ['Range', 'CPUExecutionProvider', 40, 1]]);
  assert.deepEqual(s.otherTop.map((o) => [o.cat, o.name, o.us, o.calls]), [['Kernel', 'MatMul_shader', 100, 2], ['Api', 'x', 5, 1]]);
  assert.deepEqual(s.session, [{ name: 'model_run', us: 1000 }]);
});
