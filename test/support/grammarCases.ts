/**
 * The grammar expectations, written once and run by two tokenizers: the small one of the default suite
 * (test/extension/grammars.test.ts) and VS Code's own vscode-textmate + Oniguruma in the long suite
 * (test/long/grammars-real.test.ts). Real log text comes from ../shared/vmcores/<scenario>/logs; kinds
 * of line the corpus does not have yet (BUG:, Oops, module lists, syslog levels) are written here, in the
 * kernel's formats, and marked as such.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, VMCORES } from './corpus';
import { allHave, scopesAt, type Token } from './tmTokenizer';

export type Language = 'kernel-log' | 'kdump-conf' | 'kdump-disasm';
export interface Tokenizer {
  tokenizeText(text: string): Token[][];
}
export type LoadTokenizer = (language: Language) => Promise<Tokenizer>;

export const GRAMMAR_FILES: Record<Language, string> = {
  'kernel-log': join(PROJECT_ROOT, 'syntaxes/kernel-log.tmLanguage.json'),
  'kdump-conf': join(PROJECT_ROOT, 'syntaxes/kdump-conf.tmLanguage.json'),
  'kdump-disasm': join(PROJECT_ROOT, 'syntaxes/kdump-disasm.tmLanguage.json'),
};

/** Every dmesg.txt and console.log of the corpus. */
export function realLogs(): { name: string; text: string }[] {
  if (!existsSync(VMCORES)) return [];
  return readdirSync(VMCORES).flatMap((scenario) =>
    ['dmesg.txt', 'console.log']
      .map((f) => join(VMCORES, scenario, 'logs', f))
      .filter((p) => existsSync(p))
      .map((p) => ({ name: p.slice(VMCORES.length + 1), text: readFileSync(p, 'utf8') })),
  );
}

const has = (scopes: string[], prefix: string) => scopes.some((s) => s.startsWith(prefix));

/** Lines written for these tests in the kernel's own formats: kinds of line the corpus lacks so far. */
export const WRITTEN_LOG = [
  '<1>[   88.120443] BUG: kernel NULL pointer dereference, address: 0000000000000008',
  '<1>[   88.120501] #PF: supervisor read access in kernel mode',
  '[   88.120622] Oops: 0000 [#1] PREEMPT SMP NOPTI',
  '[   88.120840] RIP: 0010:ext4_fill_super+0x1c2/0x3a0 [ext4]',
  '[   88.121002] Modules linked in: nft_chain_nat ext4(E) crc16 mbcache jbd2 virtio_blk(OE) [last unloaded: dummy]',
  '[   88.121200]  ? die_addr+0x3c/0x60',
  '[   88.121300]  mount_bdev+0x1a5/0x1e0 [ext4]',
  '[   88.121400] ---[ end trace 0000000000000000 ]---',
  '[   90.000001] ------------[ cut here ]------------',
  '[   90.000002] WARNING: CPU: 1 PID: 77 at mm/page_alloc.c:4404 __alloc_pages+0x2b1/0x340',
  'kern  :err   : [  12.345678] blk_update_request: I/O error, dev vda, sector 2048',
  'kern  :info  : [  12.345700] EXT4-fs (vda): mounted filesystem',
  '[   10.853502] pc : sysrq_handle_crash+0x24/0x30',
  '[   10.853503] lr : __handle_sysrq+0x90/0x19c',
  '[   10.853504] sp : ffff80000a4b3c40',
  '[   10.853505] x29: ffff80000a4b3c40 x28: ffff000002a8c000 x27: 0000000000000000',
  '[   91.000000] general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP',
];

export function defineGrammarTests(load: LoadTokenizer): void {
  describe('kernel-log grammar on the real logs of ../shared/vmcores', () => {
    let tok: Tokenizer;
    beforeAll(async () => {
      tok = await load('kernel-log');
    });
    const logs = realLogs();

    it('has real logs to read', () => {
      expect(logs.map((l) => l.name)).toEqual(expect.arrayContaining(['kdump-sysrq/logs/dmesg.txt']));
    });

    for (const log of logs) {
      it(`${log.name}: every line tokenized whole; timestamps, panic, frames, registers scoped`, () => {
        const lines = log.text.split(/\r?\n/);
        const tokens = tok.tokenizeText(log.text);
        const seen = {
          timestamp: 0,
          panic: 0,
          frame: 0,
          unreliable: 0,
          register: 0,
          callTrace: 0,
          marker: 0,
          code: 0,
        };
        lines.forEach((line, i) => {
          const t = tokens[i]!;
          expect(t.map((x) => x.text).join(''), `line ${i + 1}`).toBe(line);
          if (/^\[\s*\d+\.\d+\]/.test(line)) {
            expect(has(scopesAt(t, line, '['), 'constant.numeric.timestamp'), `line ${i + 1}: ${line}`).toBe(
              true,
            );
            seen.timestamp++;
          }
          if (line.includes('Kernel panic - not syncing')) {
            expect(allHave(t, line, 'Kernel panic - not syncing: ', 'invalid.illegal.panic'), line).toBe(
              true,
            );
            seen.panic++;
          }
          const frame = /^\[[^\]]+\]\s+(\?\s+)?([A-Za-z_.$][\w.$]*)\+0x[0-9a-f]+\/0x[0-9a-f]+/.exec(line);
          if (frame) {
            const expected = frame[1] ? 'comment.unreliable-frame.function' : 'entity.name.function';
            expect(allHave(t, line, frame[2]!, expected), `line ${i + 1}: ${line}`).toBe(true);
            if (frame[1]) seen.unreliable++;
            else seen.frame++;
          }
          for (const m of line.matchAll(/\b(R[A-Z0-9]{1,3}|EFLAGS|ORIG_RAX): [0-9a-f]{4}/g)) {
            expect(has(scopesAt(t, line, m[1]! + ':', m.index), 'variable.other.register'), line).toBe(true);
            seen.register++;
          }
          if (/Call [Tt]race:/.test(line)) {
            expect(has(scopesAt(t, line, 'Call '), 'markup.heading.call-trace'), line).toBe(true);
            seen.callTrace++;
          }
          if (/<\/?TASK>/.test(line)) {
            expect(has(scopesAt(t, line, '<'), 'entity.name.tag.stack-marker'), line).toBe(true);
            seen.marker++;
          }
          const code = /\bCode: .*(<[0-9a-f]{2}>)/.exec(line);
          if (code) {
            expect(has(scopesAt(t, line, 'Code:'), 'keyword.other.code'), line).toBe(true);
            expect(has(scopesAt(t, line, code[1]!), 'invalid.illegal.faulting-instruction'), line).toBe(true);
            seen.code++;
          }
          // no false alarms: red only on the panic, oops headers and the faulting code byte
          const alarming = /Kernel panic|BUG:|Oops|general protection|Unable to handle|Code:/.test(line);
          if (!alarming) {
            const red = t.filter((x) => has(x.scopes, 'invalid.illegal'));
            expect(
              red.map((x) => x.text),
              `line ${i + 1}: ${line}`,
            ).toEqual([]);
          }
        });
        expect(seen.timestamp).toBeGreaterThan(100);
        if (log.text.includes('Kernel panic')) {
          expect(seen.panic).toBeGreaterThan(0);
          expect(seen.frame).toBeGreaterThan(5);
          expect(seen.callTrace).toBeGreaterThan(0);
        }
        if (log.text.includes('RIP: ')) {
          expect(seen.register).toBeGreaterThan(10);
          expect(seen.unreliable).toBeGreaterThan(0);
          expect(seen.marker).toBeGreaterThan(1);
          expect(seen.code).toBeGreaterThan(0);
        }
      });
    }

    it('the x86_64 panic report of kdump-sysrq, token by token', () => {
      const text = readFileSync(join(VMCORES, 'kdump-sysrq/logs/dmesg.txt'), 'utf8');
      const lines = text.split('\n');
      const tokens = tok.tokenizeText(text);
      const find = (needle: string) => {
        const i = lines.findIndex((l) => l.includes(needle));
        expect(i, needle).toBeGreaterThanOrEqual(0);
        return { line: lines[i]!, t: tokens[i]! };
      };
      let l = find('sysrq: Trigger a crash');
      expect(has(scopesAt(l.t, l.line, 'sysrq'), 'keyword.control.sysrq')).toBe(true);
      l = find('CPU: 0 PID: 136 Comm: sh');
      expect(has(scopesAt(l.t, l.line, 'PID'), 'keyword.other.label')).toBe(true);
      l = find('RIP: 0033:0x47b7a0');
      expect(has(scopesAt(l.t, l.line, 'RIP'), 'variable.other.register')).toBe(true);
      expect(has(scopesAt(l.t, l.line, '0033'), 'constant.numeric.segment')).toBe(true);
      expect(has(scopesAt(l.t, l.line, '0x47b7a0'), 'constant.numeric.hex')).toBe(true);
      l = find('RAX: ffffffffffffffda');
      expect(has(scopesAt(l.t, l.line, 'ffffffffffffffda'), 'constant.numeric.hex')).toBe(true);
      l = find('__handle_sysrq.cold+0x44/0x11c');
      expect(allHave(l.t, l.line, '__handle_sysrq.cold', 'entity.name.function')).toBe(true);
      expect(has(scopesAt(l.t, l.line, '0x44'), 'constant.numeric.hex.offset')).toBe(true);
    });

    it('the arm64 panic report of arm64-sysrq', () => {
      const text = readFileSync(join(VMCORES, 'arm64-sysrq/logs/dmesg.txt'), 'utf8');
      const lines = text.split('\n');
      const tokens = tok.tokenizeText(text);
      const i = lines.findIndex((l) => l.includes('el0t_64_sync+0x18c/0x190'));
      expect(allHave(tokens[i]!, lines[i]!, 'el0t_64_sync', 'entity.name.function')).toBe(true);
      const j = lines.findIndex((l) => l.includes('Call trace:'));
      expect(has(scopesAt(tokens[j]!, lines[j]!, 'Call'), 'markup.heading.call-trace')).toBe(true);
    });

    it('kinds of line the corpus lacks so far (written in the kernel formats)', () => {
      const tokens = tok.tokenizeText(WRITTEN_LOG.join('\n'));
      const at = (n: number, needle: string) => scopesAt(tokens[n]!, WRITTEN_LOG[n]!, needle);
      expect(has(at(0, '<1>'), 'constant.other.log-level')).toBe(true);
      expect(allHave(tokens[0]!, WRITTEN_LOG[0]!, 'BUG: kernel NULL', 'invalid.illegal.oops')).toBe(true);
      expect(has(at(2, 'Oops'), 'invalid.illegal.oops')).toBe(true);
      expect(has(at(3, 'RIP'), 'variable.other.register')).toBe(true);
      expect(has(at(3, '0010'), 'constant.numeric.segment')).toBe(true);
      expect(allHave(tokens[3]!, WRITTEN_LOG[3]!, 'ext4_fill_super', 'entity.name.function')).toBe(true);
      expect(has(at(3, 'ext4]'), 'entity.name.namespace.module')).toBe(true);
      expect(has(at(4, 'Modules linked in'), 'keyword.other.modules')).toBe(true);
      expect(has(at(4, 'nft_chain_nat'), 'entity.name.namespace.module')).toBe(true);
      expect(has(at(4, '(E)'), 'keyword.other.taint')).toBe(true);
      expect(has(at(4, '(OE)'), 'keyword.other.taint')).toBe(true);
      expect(has(at(4, '[last unloaded'), 'comment.other.last-unloaded')).toBe(true);
      expect(has(at(5, 'die_addr'), 'comment.unreliable-frame.function')).toBe(true);
      expect(has(at(6, 'ext4]'), 'entity.name.namespace.module')).toBe(true);
      expect(has(at(7, '---[ end trace'), 'markup.heading.separator')).toBe(true);
      expect(has(at(8, 'cut here'), 'markup.heading.separator')).toBe(true);
      expect(has(at(9, 'WARNING'), 'keyword.control.warning')).toBe(true);
      expect(has(at(10, 'kern'), 'keyword.other.facility')).toBe(true);
      expect(has(at(10, 'err'), 'invalid.illegal.log-level.error')).toBe(true);
      expect(has(at(11, 'info'), 'comment.other.log-level')).toBe(true);
      expect(has(at(11, 'info'), 'invalid')).toBe(false);
      expect(has(at(12, 'pc'), 'variable.other.register')).toBe(false); // "pc : sym+off" is not a hex dump
      expect(has(at(14, 'sp'), 'variable.other.register')).toBe(true);
      expect(has(at(15, 'x29'), 'variable.other.register')).toBe(true);
      expect(has(at(15, 'x27'), 'variable.other.register')).toBe(true);
      expect(has(at(16, 'general protection fault'), 'invalid.illegal.oops')).toBe(true);
    });
  });

  describe('kdump-conf grammar', () => {
    let tok: Tokenizer;
    beforeAll(async () => {
      tok = await load('kdump-conf');
    });
    const fixture = (f: string) => {
      const text = readFileSync(join(PROJECT_ROOT, 'test/fixtures/kdump-conf', f), 'utf8');
      const lines = text.split('\n');
      const tokens = tok.tokenizeText(text);
      return (needle: string, nth = 0) => {
        const i = lines.findIndex((l) => l.includes(needle));
        expect(i, needle).toBeGreaterThanOrEqual(0);
        let from = 0;
        for (let k = 0; k < nth; k++) from = lines[i]!.indexOf(needle, from) + 1;
        return scopesAt(tokens[i]!, lines[i]!, needle, from);
      };
    };

    it('/etc/kdump.conf: directives, values, comments', () => {
      const at = fixture('kdump.conf');
      expect(has(at('# /etc/kdump.conf'), 'comment.line.number-sign')).toBe(true);
      expect(has(at('ssh kdump@'), 'keyword.other.directive')).toBe(true);
      expect(has(at('kdump@collector'), 'string.unquoted.host')).toBe(true);
      expect(has(at('sshkey'), 'keyword.other.directive')).toBe(true);
      expect(has(at('/root/.ssh/kdump_id_rsa'), 'string.unquoted.path')).toBe(true);
      expect(has(at('core_collector'), 'keyword.other.directive')).toBe(true);
      expect(has(at('--message-level'), 'variable.parameter.option')).toBe(true);
      expect(has(at('31 -F'), 'constant.numeric')).toBe(true);
      expect(has(at('reboot'), 'constant.language')).toBe(true);
      expect(has(at('yes'), 'constant.language')).toBe(true);
      expect(has(at('"floppy"'), 'string.quoted.double')).toBe(true);
      expect(has(at('#ext4 UUID'), 'comment.line.number-sign')).toBe(true);
      expect(has(at('# runs after'), 'comment.line.number-sign')).toBe(true);
      expect(has(at('kdump_post'), 'keyword.other.directive')).toBe(true);
    });

    it('/etc/default/kdump-tools: shell assignments', () => {
      const at = fixture('kdump-tools');
      expect(has(at('USE_KDUMP'), 'support.variable')).toBe(true);
      expect(has(at('=1'), 'keyword.operator.assignment')).toBe(true);
      expect(has(at('"/var/crash"'), 'string.quoted.double')).toBe(true);
      expect(has(at('MAKEDUMP_ARGS'), 'support.variable')).toBe(true);
      expect(has(at('SSH_KEY'), 'support.variable')).toBe(true);
      expect(has(at('export'), 'storage.modifier.export')).toBe(true);
      expect(has(at('MY_SITE_TAG'), 'variable.other.assignment')).toBe(true);
      expect(has(at("'lab-7'"), 'string.quoted.single')).toBe(true);
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax in the fixture
      expect(has(at('${HOSTNAME}'), 'variable.other.expansion')).toBe(true);
      expect(has(at('$KDUMP_COREDIR'), 'variable.other.expansion')).toBe(true);
    });

    it('/etc/sysconfig/kdump: SUSE and RHEL keys', () => {
      const at = fixture('sysconfig-kdump');
      expect(has(at('## Path'), 'comment.line.number-sign')).toBe(true);
      expect(has(at('KDUMP_SAVEDIR'), 'support.variable')).toBe(true);
      expect(has(at('"ssh://'), 'string.quoted.double')).toBe(true);
      expect(has(at('KDUMP_DUMPLEVEL'), 'support.variable')).toBe(true);
      expect(has(at('31'), 'constant.numeric')).toBe(true);
      expect(has(at('KEXEC_ARGS'), 'support.variable')).toBe(true);
    });
  });

  describe('kdump-disasm grammar', () => {
    it('addresses, symbols, mnemonics, registers', async () => {
      const tok = await load('kdump-disasm');
      const lines = [
        'sysrq_handle_crash:',
        '0xffffffffbad741a4 <sysrq_handle_crash+0x0>: nopl 0x0(%rax,%rax,1)',
        'ffffffffbad741ba:  c6 04 25 00 00 00 00 01  movb $0x1,0x0',
        '0xffff800008a1c2d4 <sysrq_handle_crash+0x24>: str w1, [x0]  ; faulting',
      ];
      const tokens = tok.tokenizeText(lines.join('\n'));
      const at = (n: number, needle: string) => scopesAt(tokens[n]!, lines[n]!, needle);
      expect(has(at(0, 'sysrq_handle_crash'), 'entity.name.function.label')).toBe(true);
      expect(has(at(1, '0xffffffffbad741a4'), 'constant.numeric.address')).toBe(true);
      expect(has(at(1, 'sysrq_handle_crash'), 'entity.name.function')).toBe(true);
      expect(has(at(1, 'nopl'), 'keyword.other.mnemonic')).toBe(true);
      expect(has(at(1, '%rax'), 'variable.language.register')).toBe(true);
      expect(has(at(2, 'c6 04'), 'constant.numeric.bytes')).toBe(true);
      expect(has(at(2, 'movb'), 'keyword.other.mnemonic')).toBe(true);
      expect(has(at(2, '$0x1'), 'constant.numeric')).toBe(true);
      expect(has(at(3, 'str'), 'keyword.other.mnemonic')).toBe(true);
      expect(has(at(3, 'w1'), 'variable.language.register')).toBe(true);
      expect(has(at(3, 'x0'), 'variable.language.register')).toBe(true);
      expect(has(at(3, '; faulting'), 'comment.line')).toBe(true);
    });
  });
}
