/**
 * How a failed remote command is shown (vscode-free, for unit tests). A refusal is modal, names its
 * host in the message (several targets share the tree and the palette's host pick) and lists the
 * reasons in the detail; anything else is a toast with the error's own message.
 */
import { PlanRefused } from '../../remote/plan';

export interface ErrorDialog {
  message: string;
  detail?: string;
  modal: boolean;
  /** The line for the Kdump Targets output channel. */
  log: string;
}

export function errorDialog(e: unknown): ErrorDialog {
  if (e instanceof PlanRefused) {
    return { message: `${e.host}: refused`, detail: e.reasons.join('\n'), modal: true, log: e.message };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { message, modal: false, log: message };
}
