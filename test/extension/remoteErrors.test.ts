/** How the Kdump Targets commands report failures: refusals name their host (real VS Code: test/long/e2e-remote.test.ts). */
import { describe, expect, it } from 'vitest';
import { errorDialog } from '../../src/extension/remote/errorMessage';
import { PlanRefused } from '../../src/remote/plan';
import { SshError } from '../../src/remote/ssh';

describe('errorDialog', () => {
  it('a refusal is modal, names the host, and lists every reason in the detail', () => {
    const e = new PlanRefused('lab-7', [
      'no capture kernel is loaded: a crash now would produce no dump; load it first',
      'no memory is reserved for a capture kernel',
    ]);
    expect(errorDialog(e)).toEqual({
      message: 'lab-7: refused',
      detail:
        'no capture kernel is loaded: a crash now would produce no dump; load it first\nno memory is reserved for a capture kernel',
      modal: true,
      log: 'lab-7: refused:\n  - no capture kernel is loaded: a crash now would produce no dump; load it first\n  - no memory is reserved for a capture kernel',
    });
  });

  it('other errors are a toast with their own message (SSH errors already name the host)', () => {
    const e = new SshError('unreachable', 'lab-7', 'lab-7: cannot connect: Connection refused');
    expect(errorDialog(e)).toEqual({
      message: 'lab-7: cannot connect: Connection refused',
      modal: false,
      log: 'lab-7: cannot connect: Connection refused',
    });
    expect(errorDialog('plain')).toMatchObject({ message: 'plain', modal: false });
  });
});
