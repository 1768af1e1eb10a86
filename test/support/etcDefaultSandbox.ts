/**
 * A sandboxed boot configuration for the test sshd: a copy of this machine's /etc/default plus a
 * Debian GRUB defaults file, which the sessions on one port of the server see at /etc/default
 * through a private mount namespace per session (sshd ForceCommand + unshare + a bind mount).
 * Everything else those sessions see (kernel, /proc, /sys, tools, users) is this machine. A boot-loader
 * change planned or run against that host can only land in the copy, never in the real /etc.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface EtcDefaultSandbox {
  /** The copy that sandboxed sessions see as /etc/default. */
  dir: string;
  /** An sshd_config `ForceCommand` line that runs each session's command inside the sandbox. */
  forceCommand: string;
}

/** Every file, directory and symlink under `dir` with its content: equal snapshots = nothing changed. */
export function snapshotTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      if (st.isSymbolicLink()) out[r] = `symlink ${readlinkSync(join(dir, r))}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(r);
      } else out[r] = `file ${(st.mode & 0o7777).toString(8)} ${readFileSync(join(dir, r), 'base64')}`;
    }
  };
  walk('');
  return out;
}

/** Make the sandbox in `root` (a fresh temp dir) with `grub` as /etc/default/grub. */
export function etcDefaultSandbox(root: string, grub: string): EtcDefaultSandbox {
  try {
    execFileSync('unshare', ['--mount', 'true'], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`the /etc/default sandbox needs root and unshare --mount (util-linux): ${e}`);
  }
  const dir = join(root, 'etc-default');
  mkdirSync(dir);
  execFileSync('cp', ['-a', '/etc/default/.', dir]);
  writeFileSync(join(dir, 'grub'), grub);
  const script = join(root, 'sandboxed-session.sh');
  // $1: the copy. Runs the client's command ($SSH_ORIGINAL_COMMAND, quoted for the login shell) with
  // the copy bind-mounted over /etc/default in a namespace of its own (unshare: private propagation).
  writeFileSync(
    script,
    `exec unshare --mount --propagation private /bin/sh -c 'mount --bind "$1" /etc/default && exec "$2" -c "$SSH_ORIGINAL_COMMAND"' sandbox "$1" "\${SHELL:-/bin/sh}"\n`,
  );
  return { dir, forceCommand: `ForceCommand /bin/sh ${script} ${dir}` };
}
