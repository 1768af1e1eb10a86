import { mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  completeConfig,
  configForDump,
  resolvePath,
  validateConfig,
} from '../../src/extension/pure/launchConfig';
import { corpus, VMCORES } from '../support/corpus';

describe('completeConfig (F5 with or without launch.json)', () => {
  it('an empty configuration with no dump in view asks for a file', () => {
    expect(completeConfig({})).toEqual({
      action: 'pick',
      config: { type: 'vmcore', request: 'launch', name: 'Crash dump' },
    });
  });
  it('an empty configuration takes the dump in view and names the session after it', () => {
    expect(completeConfig({}, '/var/crash/202611/vmcore')).toEqual({
      action: 'start',
      config: {
        type: 'vmcore',
        request: 'launch',
        name: 'Crash dump: vmcore',
        vmcore: '/var/crash/202611/vmcore',
      },
    });
  });
  it('a launch.json entry with a dump starts as written', () => {
    const c = {
      type: 'vmcore',
      request: 'launch',
      name: 'Mine',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a VS Code launch.json variable
      vmcore: '${workspaceFolder}/vmcore',
      vmlinux: 'x',
    };
    expect(completeConfig(c)).toEqual({ action: 'start', config: c });
  });
  it('a launch.json entry with an empty vmcore asks for one but keeps its name and other attributes', () => {
    const res = completeConfig({
      type: 'vmcore',
      request: 'launch',
      name: 'Mine',
      vmcore: ' ',
      systemMap: 'm',
    });
    expect(res).toEqual({
      action: 'pick',
      config: { type: 'vmcore', request: 'launch', name: 'Mine', vmcore: ' ', systemMap: 'm' },
    });
  });
  it('configForDump', () => {
    expect(configForDump('/d/vmcore.kdump-zlib')).toEqual({
      type: 'vmcore',
      request: 'launch',
      name: 'Crash dump: vmcore.kdump-zlib',
      vmcore: '/d/vmcore.kdump-zlib',
    });
  });
});

describe('resolvePath', () => {
  it('expands ~ and resolves against the workspace folder', () => {
    expect(resolvePath('~/crash/vmcore', '/ws')).toBe(join(homedir(), 'crash/vmcore'));
    expect(resolvePath('dumps/vmcore', '/ws')).toBe('/ws/dumps/vmcore');
    expect(resolvePath('/abs/vmcore', '/ws')).toBe('/abs/vmcore');
  });
});

describe('validateConfig (after variable substitution)', () => {
  const dump = corpus().find((d) => d.name === 'kdump-sysrq/vmcore.kdump-zlib')!;
  const scratch = mkdtempSync(join(tmpdir(), 'kdump-launch-'));

  it('accepts a real dump with a real System.map, paths made absolute', async () => {
    const res = await validateConfig(
      {
        type: 'vmcore',
        request: 'launch',
        name: 'x',
        vmcore: dump.path,
        systemMap: 'kernel/System.map-6.1.0-56-amd64',
        vmlinux: '',
        kernelSource: 'kernel',
      },
      VMCORES,
    );
    expect(res.errors).toEqual([]);
    expect(res.config).toEqual({
      type: 'vmcore',
      request: 'launch',
      name: 'x',
      vmcore: dump.path,
      systemMap: join(VMCORES, 'kernel/System.map-6.1.0-56-amd64'),
      kernelSource: join(VMCORES, 'kernel'),
    });
  });

  it('says what is wrong with each attribute', async () => {
    const text = join(scratch, 'notes.txt');
    writeFileSync(text, 'hello');
    const res = await validateConfig(
      {
        type: 'vmcore',
        request: 'attach',
        name: 'x',
        vmcore: text,
        vmlinux: join(scratch, 'missing'),
        systemMap: 3 as unknown as string,
        kernelSource: text,
      },
      scratch,
    );
    expect(res.errors).toEqual([
      'a vmcore session is started with "request": "launch", not "attach"',
      'notes.txt is not a crash dump: it starts with neither an ELF header, "KDUMP", "DISKDUMP" nor a makedumpfile flattened header',
      `"vmlinux" names a file that does not exist: ${join(scratch, 'missing')}`,
      '"systemMap" must be a path (a string)',
      `"kernelSource" is a file, not a folder: ${text}`,
    ]);
  });

  it('a missing vmcore', async () => {
    const res = await validateConfig({ type: 'vmcore', request: 'launch', name: 'x' }, scratch);
    expect(res.errors).toEqual(['"vmcore" is missing: name the crash dump to open']);
  });
});
