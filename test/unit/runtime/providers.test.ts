// auto skips WebGPU where it cannot start (Linux without the Vulkan loader), saying why, so Dawn never prints
// its native warning on a machine without a GPU; with the loader present, WebGPU is tried first as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openFirstWorking, webgpuUnavailable } from '../../../kernels/runtime/providers.js';

test('webgpuUnavailable: only on Linux, and only when the Vulkan loader is nowhere the linker looks', () => {
  const none = () => false, noCache = () => { throw new Error('no cache'); };
  assert.match(webgpuUnavailable('linux', {}, none, noCache)!, /no Vulkan loader \(libvulkan\.so\.1\)/);
  assert.equal(webgpuUnavailable('linux', {}, none, () => 'junk libvulkan.so.1 junk'), undefined, 'in the linker cache');
  assert.equal(webgpuUnavailable('linux', { LD_LIBRARY_PATH: '/opt/vk' }, (p) => p === '/opt/vk/libvulkan.so.1', noCache), undefined);
  assert.equal(webgpuUnavailable('linux', {}, (p) => p === '/usr/lib/x86_64-linux-gnu/libvulkan.so.1', noCache), undefined);
  assert.equal(webgpuUnavailable('darwin', {}, none, noCache), undefined, 'Metal: nothing to look for');
  assert.equal(webgpuUnavailable('win32', {}, none, noCache), undefined);
});

test('openFirstWorking(auto) on this machine: WebGPU is skipped with the reason, or tried first when it can start', async () => {
  const tried: string[] = [];
  const opened = await openFirstWorking('auto', async (p, precision) => { tried.push(p); if (p !== 'cpu') throw new Error(`${p} fails here`); return { value: p, precision }; },
    async () => undefined);
  assert.equal(opened.provider, 'cpu');
  const reason = webgpuUnavailable();
  if (reason) {
    assert.ok(!tried.includes('webgpu'), 'not tried: Dawn would warn on stderr');
    assert.deepEqual(opened.skipped[0], { provider: 'webgpu', reason });
  } else {
    assert.equal(tried[0], 'webgpu');
  }
  // An explicit setting is always tried (and fails with its own reason where it cannot run).
  const explicit: string[] = [];
  await assert.rejects(openFirstWorking('webgpu', async (p) => { explicit.push(p); throw new Error('no adapter'); }, async () => undefined), /webgpu: no adapter/);
  assert.deepEqual(explicit, ['webgpu']);
});
