// Reads the infiniLens.* settings and turns files.exclude / search.exclude into walker globs.
import * as vscode from 'vscode';
import type { SearchMode } from '../core/api.js';

export interface LensConfig {
  maxFileBytes: number;
  /** Follow links whose target is outside the workspace folder (links inside it are always followed). */
  followSymlinks: boolean;
  excludeGlobs: string[];
  searchMode: SearchMode;
  maxResults: number;
  /** Embed chunks with the shipped encoder after lexical indexing (dense/hybrid, Find Similar Code). */
  embeddings: boolean;
}

/** Settings whose change needs a re-walk (anything else is read at search time). */
export const INDEX_SETTINGS = ['infiniLens.maxFileSizeKB', 'infiniLens.followSymlinks', 'infiniLens.exclude', 'infiniLens.embeddings.enabled', 'files.exclude', 'search.exclude'];

export function readConfig(folder: vscode.WorkspaceFolder): LensConfig {
  const lens = vscode.workspace.getConfiguration('infiniLens', folder.uri);
  return {
    maxFileBytes: Math.max(1, lens.get<number>('maxFileSizeKB', 1024)) * 1024,
    followSymlinks: lens.get<boolean>('followSymlinks', false) === true,
    excludeGlobs: [...new Set([
      ...lens.get<string[]>('exclude', []),
      ...enabledGlobs(vscode.workspace.getConfiguration('files', folder.uri).get('exclude')),
      ...enabledGlobs(vscode.workspace.getConfiguration('search', folder.uri).get('exclude')),
    ])],
    // Embeddings off: only keyword ranking can answer, whatever the mode says.
    searchMode: lens.get<boolean>('embeddings.enabled', true) ? lens.get<SearchMode>('search.mode', 'hybrid') : 'lexical',
    maxResults: Math.max(1, lens.get<number>('search.maxResults', 50)),
    embeddings: lens.get<boolean>('embeddings.enabled', true),
  };
}

/** `{ "**\/node_modules": true, "**\/*.js": { "when": "$(basename).ts" } }` → the unconditional `true` keys. */
export function enabledGlobs(setting: unknown): string[] {
  if (typeof setting !== 'object' || setting === null) return [];
  // Sibling conditions ("when") need the file's neighbours; the walker cannot judge them, so they are left out.
  return Object.entries(setting).filter(([, on]) => on === true).map(([glob]) => glob);
}

const PROVIDERS = ['auto', 'webgpu', 'cpu'] as const;
/** `infiniLens.encoder.provider`, an unknown value read as 'auto'. */
export function readProvider(): typeof PROVIDERS[number] {
  const setting = vscode.workspace.getConfiguration('infiniLens').get<string>('encoder.provider', 'auto');
  return (PROVIDERS as readonly string[]).includes(setting) ? setting as typeof PROVIDERS[number] : 'auto';
}
