/** The "Kdump Targets" tree: maps the vscode-free model (src/remote/view.ts) to TreeItems. */
import * as vscode from 'vscode';
import type { TargetState } from '../../remote/state';
import { type NodeIcon, type TargetNode, targetNode } from '../../remote/view';

const CODICONS: Partial<Record<NodeIcon, [string, string?]>> = {
  busy: ['loading~spin'],
  ok: ['pass', 'testing.iconPassed'],
  warning: ['warning', 'problemsWarningIcon.foreground'],
  error: ['error', 'problemsErrorIcon.foreground'],
  info: ['circle-small'],
  dump: ['file-binary'],
  'dump-incomplete': ['file-binary', 'problemsWarningIcon.foreground'],
};

export class TargetsView implements vscode.TreeDataProvider<TargetNode> {
  private readonly changed = new vscode.EventEmitter<TargetNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly states = new Map<string, TargetState>();
  readonly busy = new Map<string, string>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly hosts: () => string[],
  ) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  setState(host: string, state: TargetState): void {
    this.states.set(host, state);
    this.refresh();
  }

  setBusy(host: string, what: string | undefined): void {
    if (what === undefined) this.busy.delete(host);
    else this.busy.set(host, what);
    this.refresh();
  }

  getChildren(node?: TargetNode): TargetNode[] {
    if (!node) return this.hosts().map((h) => targetNode(h, this.states.get(h), this.busy.get(h)));
    return node.children ?? [];
  }

  getTreeItem(node: TargetNode): vscode.TreeItem {
    const item = new vscode.TreeItem(
      node.label,
      node.children?.length
        ? vscode.TreeItemCollapsibleState.Collapsed
        : vscode.TreeItemCollapsibleState.None,
    );
    item.id = node.id;
    if (node.description) item.description = node.description;
    if (node.tooltip) item.tooltip = node.tooltip;
    if (node.contextValue) item.contextValue = node.contextValue;
    if (node.icon?.startsWith('target')) {
      item.iconPath = {
        light: vscode.Uri.joinPath(this.extensionUri, 'media', 'light', `${node.icon}.svg`),
        dark: vscode.Uri.joinPath(this.extensionUri, 'media', 'dark', `${node.icon}.svg`),
      };
    } else if (node.icon) {
      const [name, color] = CODICONS[node.icon] ?? ['circle-small'];
      item.iconPath = new vscode.ThemeIcon(name, color ? new vscode.ThemeColor(color) : undefined);
    }
    if (node.contextValue === 'kdumpDump') {
      item.command = { command: 'kdump.targets.fetchDump', title: 'Fetch Dump and Open', arguments: [node] };
    }
    return item;
  }
}
