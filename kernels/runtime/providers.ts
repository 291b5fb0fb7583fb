// Execution-provider choice. onnxruntime does not fall back by itself when a provider fails to start (or
// fails on the first run), so `auto` tries the providers in order, each with a probe, and reports which one
// runs and why the others were skipped.
import { existsSync } from 'node:fs';
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
  for (const provider of providerOrder(setting)) {
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
