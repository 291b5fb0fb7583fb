// The one encoder of the extension host: kernels/runtime's Encoder (inference runs in its own worker thread),
// opened lazily on first use with the `infiniLens.encoder.provider` setting, reopened when that changes, and
// shown in the status bar (which execution provider runs, and which were skipped and why).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Encoder } from '../../../kernels/runtime/encoder.js';
import { hasModel } from '../../../kernels/runtime/modelFiles.js';
import type { ProviderSetting } from '../../../kernels/runtime/providers.js';
import type { LensEngine } from '../lens/lensData.js';
import { lensConfigFrom, runtimeLensEngine } from '../lens/runtimeEngine.js';

const PROVIDERS: readonly ProviderSetting[] = ['auto', 'webgpu', 'cpu'];

export class EncoderService implements vscode.Disposable {
  private opening: Promise<Encoder> | undefined;
  private readonly item = vscode.window.createStatusBarItem('infiniLens.encoder', vscode.StatusBarAlignment.Left, 9);
  private readonly subs: vscode.Disposable[] = [];
  readonly modelDir: string;

  constructor(private readonly context: vscode.ExtensionContext, private readonly log: vscode.LogOutputChannel) {
    this.modelDir = path.join(context.extensionPath, 'kernels', 'model');
    this.item.name = 'Infini Lens Encoder';
    this.item.command = 'infiniLens.showLog';
    this.subs.push(this.item, vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('infiniLens.encoder.provider')) void this.restart();
    }));
  }

  get available(): boolean { return hasModel(this.modelDir); }

  /** The running encoder, opened on first call; a failed open is reported and retried on the next call. */
  get(): Promise<Encoder> {
    this.opening ??= this.open().catch((e: unknown) => {
      this.opening = undefined;
      const message = e instanceof Error ? e.message : String(e);
      this.log.error(`encoder: could not start: ${message}`);
      Object.assign(this.item, { text: '$(warning) encoder', tooltip: `Infini Lens encoder failed to start: ${message}` });
      this.item.show();
      throw e;
    });
    return this.opening;
  }

  /** A lens engine over the shared encoder (kernels/runtime's lens graph), rebuilt when the encoder is. */
  lensEngine(): LensEngine {
    let cached: { enc: Encoder; engine: LensEngine } | undefined;
    const engine = async (): Promise<LensEngine> => {
      const enc = await this.get();
      if (cached?.enc !== enc) cached = { enc, engine: runtimeLensEngine(enc, lensConfigFrom(enc.info.config)) };
      return cached.engine;
    };
    return {
      lens: async (req, cancel) => (await engine()).lens(req, cancel),
      attention: async (req, cancel) => (await engine()).attention(req, cancel),
    };
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    void this.opening?.then((e) => e.close(), () => undefined);
    this.opening = undefined;
  }

  private async open(): Promise<Encoder> {
    const setting = vscode.workspace.getConfiguration('infiniLens').get<string>('encoder.provider', 'auto');
    const provider = (PROVIDERS as readonly string[]).includes(setting) ? setting as ProviderSetting : 'auto';
    Object.assign(this.item, { text: '$(sync~spin) encoder', tooltip: `Infini Lens: starting the encoder (${provider})` });
    this.item.show();
    const t0 = Date.now();
    const enc = await Encoder.open(this.modelDir, {
      provider, workerPath: path.join(this.context.extensionPath, 'dist', 'worker.js'), log: (m) => this.log.info(m),
    });
    const { info } = enc;
    for (const s of info.skipped) this.log.info(`encoder: skipped provider ${s.provider}: ${s.reason}`);
    this.log.info(`encoder: running on ${info.provider} (${info.precision}), setting ${provider}, started in ${Date.now() - t0} ms`);
    const tooltip = new vscode.MarkdownString(`**Infini Lens encoder** — execution provider \`${info.provider}\` (${info.precision})`);
    for (const s of info.skipped) tooltip.appendMarkdown(`\n\n- skipped \`${s.provider}\`: ${s.reason.replace(/[\\`*_[\]<>]/g, '\\$&')}`);
    Object.assign(this.item, { text: `$(chip) ${info.provider}`, tooltip });
    return enc;
  }

  private async restart(): Promise<void> {
    const old = this.opening;
    this.opening = undefined;
    this.item.hide();
    await old?.then((e) => e.close(), () => undefined);
  }
}
