// Reads an onnxruntime profile (session option enableProfiling; a Chrome-trace JSON array written by
// endProfiling) and says which provider ran each node and where the time went.
// Node events: cat "Node", name "<node>_kernel_time", args.op_name, args.provider, dur in µs (host clock: on
// WebGPU this is the time to record and dispatch the node, not GPU time). Events of other categories (an
// execution provider's own profiler, when it writes any) are summarised separately by name.
import { readFileSync } from 'node:fs';

export interface ProfileEvent { cat?: string; name?: string; dur?: number; args?: Record<string, unknown> }

export interface ProfileSummary {
  /** Distinct graph nodes per provider (a node that ran several times counts once). */
  nodesPerProvider: Record<string, number>;
  /** Node executions (events) per provider. */
  eventsPerProvider: Record<string, number>;
  /** Total µs of node events per provider. */
  usPerProvider: Record<string, number>;
  /** Nodes that ran on the CPU provider while the session's main provider is another one (op: count of nodes). */
  cpuFallback: { node: string; op: string }[];
  cpuFallbackOps: Record<string, number>;
  /** The most expensive nodes by total µs over all their executions. */
  topNodes: { node: string; op: string; provider: string; us: number; calls: number; share: number }[];
  /** The same, grouped by operator type and provider. */
  topOps: { op: string; provider: string; us: number; nodes: number; share: number }[];
  /** Events of categories other than Node/Session (e.g. an EP's GPU kernel timings), by name. */
  otherTop: { cat: string; name: string; us: number; calls: number }[];
  totalNodeUs: number;
  /** Session-level events (model loading, initialization, each model_run) in µs. */
  session: { name: string; us: number }[];
}

const nodeName = (e: ProfileEvent): string => (e.name ?? '').replace(/_kernel_time$/, '');

/** Summarises profile events; `mainProvider` is the provider the session asked for (e.g. 'WebGpuExecutionProvider'). */
export function summarizeProfile(events: readonly ProfileEvent[], mainProvider: string, top = 5): ProfileSummary {
  const nodes = events.filter((e) => e.cat === 'Node' && typeof e.name === 'string' && e.name.endsWith('_kernel_time'));
  const byNode = new Map<string, { op: string; provider: string; us: number; calls: number }>();
  const eventsPerProvider: Record<string, number> = {}, usPerProvider: Record<string, number> = {};
  let totalNodeUs = 0;
  for (const e of nodes) {
    const provider = String(e.args?.provider ?? 'unknown'), op = String(e.args?.op_name ?? '?'), us = e.dur ?? 0;
    const key = `${nodeName(e)}\u0000${provider}`;
    const n = byNode.get(key) ?? { op, provider, us: 0, calls: 0 };
    n.us += us; n.calls++;
    byNode.set(key, n);
    eventsPerProvider[provider] = (eventsPerProvider[provider] ?? 0) + 1;
    usPerProvider[provider] = (usPerProvider[provider] ?? 0) + us;
    totalNodeUs += us;
  }
  const nodesPerProvider: Record<string, number> = {};
  const cpuFallback: { node: string; op: string }[] = [];
  const cpuFallbackOps: Record<string, number> = {};
  const ops = new Map<string, { op: string; provider: string; us: number; nodes: number }>();
  for (const [key, n] of byNode) {
    const node = key.split('\u0000')[0]!;
    nodesPerProvider[n.provider] = (nodesPerProvider[n.provider] ?? 0) + 1;
    if (n.provider === 'CPUExecutionProvider' && mainProvider !== 'CPUExecutionProvider') {
      cpuFallback.push({ node, op: n.op });
      cpuFallbackOps[n.op] = (cpuFallbackOps[n.op] ?? 0) + 1;
    }
    const ok = `${n.op}\u0000${n.provider}`;
    const o = ops.get(ok) ?? { op: n.op, provider: n.provider, us: 0, nodes: 0 };
    o.us += n.us; o.nodes++;
    ops.set(ok, o);
  }
  const share = (us: number) => (totalNodeUs > 0 ? us / totalNodeUs : 0);
  const topNodes = [...byNode].map(([key, n]) => ({ node: key.split('\u0000')[0]!, op: n.op, provider: n.provider, us: n.us, calls: n.calls, share: share(n.us) }))
    .sort((a, b) => b.us - a.us).slice(0, top);
  const topOps = [...ops.values()].map((o) => ({ ...o, share: share(o.us) })).sort((a, b) => b.us - a.us).slice(0, top);
  const other = new Map<string, { cat: string; name: string; us: number; calls: number }>();
  for (const e of events) {
    if (e.cat === 'Node' || e.cat === 'Session' || !e.name) continue;
    const k = `${e.cat}\u0000${e.name}`;
    const o = other.get(k) ?? { cat: String(e.cat), name: e.name, us: 0, calls: 0 };
    o.us += e.dur ?? 0; o.calls++;
    other.set(k, o);
  }
  const otherTop = [...other.values()].sort((a, b) => b.us - a.us).slice(0, top);
  const session = events.filter((e) => e.cat === 'Session').map((e) => ({ name: e.name ?? '?', us: e.dur ?? 0 }));
  return { nodesPerProvider, eventsPerProvider, usPerProvider, cpuFallback, cpuFallbackOps, topNodes, topOps, otherTop, totalNodeUs, session };
}

export function readProfile(file: string): ProfileEvent[] {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  if (!Array.isArray(parsed)) throw new Error(`${file}: not an onnxruntime profile (expected a JSON array of events)`);
  return parsed as ProfileEvent[];
}

/** The name onnxruntime's profiler gives an execution provider ('webgpu' → 'WebGpuExecutionProvider'). */
export function profilerProviderName(p: string): string {
  return ({ cpu: 'CPUExecutionProvider', webgpu: 'WebGpuExecutionProvider', cuda: 'CUDAExecutionProvider' } as Record<string, string>)[p] ?? p;
}
