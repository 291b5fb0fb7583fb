// The three themes every must-show screenshot is taken in: light, dark and high contrast.
import * as vscode from 'vscode';

export const THEMES = [['light', 'Default Light Modern'], ['dark', 'Default Dark Modern'], ['hc', 'Default High Contrast']] as const;

/** Runs `shoot(name)` once per theme, the theme applied (and given time to reach webviews) first; resets after. */
export async function inEachTheme(shoot: (name: string) => Promise<void>): Promise<void> {
  try {
    for (const [name, theme] of THEMES) {
      await vscode.workspace.getConfiguration('workbench').update('colorTheme', theme, vscode.ConfigurationTarget.Global);
      await new Promise((r) => setTimeout(r, 1200));
      await shoot(name);
    }
  } finally {
    await vscode.workspace.getConfiguration('workbench').update('colorTheme', undefined, vscode.ConfigurationTarget.Global);
  }
}
