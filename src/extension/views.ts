/** The views of the Kdump activity-bar container. */
import { basename, dirname } from 'node:path';
import * as vscode from 'vscode';
import { rememberDump } from './pure/recentDumps';

const RECENT_KEY = 'kdump.recentDumps';

/** "Crash Dumps": the dumps opened lately, newest first; a click opens one again. */
export class RecentDumpsView implements vscode.TreeDataProvider<string>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly context: vscode.ExtensionContext) {}

  add(dumpPath: string): void {
    const list = rememberDump(this.context.globalState.get<string[]>(RECENT_KEY, []), dumpPath);
    void this.context.globalState.update(RECENT_KEY, list).then(() => this.changed.fire());
  }

  getChildren(element?: string): string[] {
    return element ? [] : this.context.globalState.get<string[]>(RECENT_KEY, []);
  }

  getTreeItem(dumpPath: string): vscode.TreeItem {
    const item = new vscode.TreeItem(basename(dumpPath), vscode.TreeItemCollapsibleState.None);
    item.description = dirname(dumpPath);
    item.tooltip = dumpPath;
    item.contextValue = 'kdump.dump';
    item.iconPath = {
      light: vscode.Uri.joinPath(this.context.extensionUri, 'media', 'light', 'dump.svg'),
      dark: vscode.Uri.joinPath(this.context.extensionUri, 'media', 'dark', 'dump.svg'),
    };
    item.command = { command: 'kdump.openDumpPath', title: 'Open Crash Dump', arguments: [dumpPath] };
    return item;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
