// Execution-provider choice. onnxruntime does not fall back by itself when a provider fails to start (or
// fails on the first run), so `auto` tries the providers in order, each with a probe, and reports which one
// runs and why the others were skipped.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import type { Precision } from './modelFiles.js';

export type ProviderName = 'webgpu' | 'cuda' | 'cpu';
export type ProviderSetting = 'auto' | ProviderName;

export interface OpenedSession<S> {
  value: S;
  provider: ProviderName;
  precision: Precision;
  /** Providers tried before this one, with the reason each was passed over. */
  skipped: { provider: ProviderName; reason: string }[];
}

/** CUDA needs provider libraries that onnxruntime-node does not ship on npm; only try it when present. */
export function cudaAvailable(): boolean {
  try {
    const bin = path.dirname(require.resolve('onnxruntime-node/package.json'));
    return existsSync(path.join(bin, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so'));
  } catch { return false; }
}

/**
 * Why WebGPU cannot start here, before trying it: on Linux, Dawn reaches the GPU through Vulkan, and without the
 * Vulkan loader (libvulkan.so.1) there is no adapter — and trying prints Dawn's warning on stderr from native
 * code. The loader is looked up where the dynamic linker looks (its cache, LD_LIBRARY_PATH, the usual folders).
 */
export function webgpuUnavailable(platform = process.platform, env = process.env,
  exists: (p: string) => boolean = existsSync, ldCache: () => string = () => readFileSync('/etc/ld.so.cache', 'latin1')): string | undefined {
  if (platform !== 'linux') return undefined;
  const lib = 'libvulkan.so.1';
  try { if (ldCache().includes(lib)) return undefined; } catch { /* no cache: look in the folders */ }
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), '/lib', '/usr/lib', '/lib64', '/usr/lib64', '/usr/local/lib',
    '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu'];
  if (dirs.some((d) => exists(path.join(d, lib)))) return undefined;
  return `no Vulkan loader (${lib}) on this machine, so no GPU adapter for WebGPU`;
}

export function providerOrder(setting: ProviderSetting): ProviderName[] {
  if (setting !== 'auto') return [setting];
  return ['webgpu', ...(cudaAvailable() ? ['cuda' as const] : []), 'cpu'];
}

/** fp16 graphs only where the provider computes in fp16 natively; the CPU provider would upcast node by node. */
export function precisionFor(provider: ProviderName): Precision {
  return provider === 'cpu' ? 'fp32' : 'fp16';
}

export function sessionOptions(provider: ProviderName, threads?: number): InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    ...(threads ? { intraOpNumThreads: threads } : {}),
  };
}

/**
 * Opens with the first provider whose open + probe succeed. `open` gets the provider and the precision it
 * should use; `probe` runs a tiny real input, so a provider that starts but cannot run the graph is skipped.
 */
export async function openFirstWorking<S>(setting: ProviderSetting,
  open: (p: ProviderName, precision: Precision) => Promise<{ value: S; precision: Precision }>,
  probe: (s: S) => Promise<void>): Promise<OpenedSession<S>> {
  const skipped: { provider: ProviderName; reason: string }[] = [];
  // auto: WebGPU is not tried where it cannot start (no warning from Dawn on a machine without a GPU stack).
  const noWebgpu = setting === 'auto' ? webgpuUnavailable() : undefined;
  if (noWebgpu) skipped.push({ provider: 'webgpu', reason: noWebgpu });
  for (const provider of providerOrder(setting)) {
    if (provider === 'webgpu' && noWebgpu) continue;
    try {
      const { value, precision } = await open(provider, precisionFor(provider));
      await probe(value);
      return { value, provider, precision, skipped };
    } catch (e) {
      // onnxruntime messages start with a source path and lambda name; the useful part is the tail.
      const line = (e as Error).message.split('\n')[0] ?? String(e);
      skipped.push({ provider, reason: line.length > 160 ? `…${line.slice(-160)}` : line });
    }
  }
  throw new Error(`no execution provider could run the model: ${skipped.map((s) => `${s.provider}: ${s.reason}`).join('; ')}`);
}
