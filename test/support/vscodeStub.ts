/**
 * A thin stand-in for the `vscode` module, for unit tests of the glue in src/extension: only the few
 * classes and functions the tested modules touch, with VS Code's shapes. Anything else throws, so a test
 * never passes by silently calling a stub. The real VS Code runs in test/long/e2e.test.ts.
 */
type Listener<T> = (e: T) => unknown;

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  event = (l: Listener<T>) => {
    this.listeners.push(l);
    return { dispose: () => (this.listeners = this.listeners.filter((x) => x !== l)) };
  };
  fire(e: T): void {
    for (const l of this.listeners) l(e);
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(sl: number, sc: number, el: number, ec: number) {
    this.start = new Position(sl, sc);
    this.end = new Position(el, ec);
  }
}

export class MarkdownString {
  constructor(readonly value: string) {}
}

export class Hover {
  readonly contents: MarkdownString[];
  constructor(
    contents: MarkdownString,
    readonly range?: Range,
  ) {
    this.contents = [contents];
  }
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class DebugThread {
  constructor(
    readonly session: { id: string },
    readonly threadId: number,
  ) {}
}

export class DebugStackFrame {
  constructor(
    readonly session: { id: string },
    readonly threadId: number,
    readonly frameId: number,
  ) {}
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly path: string,
  ) {}
  static from(c: { scheme: string; path: string }): Uri {
    return new Uri(c.scheme, c.path);
  }
  static file(path: string): Uri {
    return new Uri('file', path);
  }
  get fsPath(): string {
    return this.path;
  }
  toString(): string {
    return `${this.scheme}:${this.path}`;
  }
}

export const OverviewRulerLane = { Full: 7 };
export const TextEditorRevealType = { InCenter: 2 };

const terminated = new EventEmitter<unknown>();
export const debug = {
  activeStackItem: undefined as DebugThread | DebugStackFrame | undefined,
  activeDebugSession: undefined as unknown,
  onDidTerminateDebugSession: terminated.event,
  /** Test hook: end a session as VS Code would. */
  fireTerminated: (s: unknown) => terminated.fire(s),
};

const unavailable = (what: string) => () => {
  throw new Error(`vscode stub: ${what} is not stubbed`);
};
export const window = new Proxy({}, { get: (_t, p) => unavailable(`window.${String(p)}`) });
export const workspace = new Proxy({}, { get: (_t, p) => unavailable(`workspace.${String(p)}`) });
export const languages = new Proxy({}, { get: (_t, p) => unavailable(`languages.${String(p)}`) });
export const commands = new Proxy({}, { get: (_t, p) => unavailable(`commands.${String(p)}`) });
