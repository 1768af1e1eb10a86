#!/bin/bash
# Run the kdump test guest built by build.sh (QEMU, TCG unless ACCEL=kvm).
#   run.sh start BUILD_DIR STATE_DIR [PORT]   boot in the background; ssh on 127.0.0.1:PORT only
#   run.sh stop STATE_DIR                     power it off
#   run.sh ssh STATE_DIR [CMD...]             ssh in with the generated config (STATE_DIR/ssh_config)
# env: MEM (768M) SMP (2) CRASHKERNEL (192M) ACCEL (tcg) AUTOLOAD (0) DUMPARGS ("-c -d 31")
set -euo pipefail
cmd=${1:?usage: run.sh start|stop|ssh ...}; shift
case "$cmd" in
start)
	B=$(cd "${1:?BUILD_DIR}" && pwd); mkdir -p "${2:?STATE_DIR}"; S=$(cd "$2" && pwd); PORT=${3:-10022}
	if [ ! -f "$S/var-crash.img" ]; then truncate -s 2G "$S/var-crash.img"; mkfs.ext4 -q -F -L var-crash "$S/var-crash.img"; fi
	echo "[127.0.0.1]:$PORT $(cat "$B/ssh/host_ed25519.pub")" > "$S/known_hosts"
	cat > "$S/ssh_config" <<EOC
Host kdump-guest
	HostName 127.0.0.1
	Port $PORT
	User root
	IdentityFile $B/ssh/id_ed25519
	IdentitiesOnly yes
	UserKnownHostsFile $S/known_hosts
	StrictHostKeyChecking yes
	LogLevel ERROR
EOC
	DUMPARGS=${DUMPARGS:--c -d 31}
	qemu-system-x86_64 -accel "${ACCEL:-tcg}" -cpu qemu64 -m "${MEM:-768M}" -smp "${SMP:-2}" \
		-display none -monitor none -serial "file:$S/console.log" \
		-kernel "$B/vmlinuz" -initrd "$B/initramfs.img" \
		-append "console=ttyS0 crashkernel=${CRASHKERNEL:-192M} kdt.autoload=${AUTOLOAD:-0} kdt.dumpargs=${DUMPARGS// /,}" \
		-drive "file=$S/var-crash.img,format=raw,if=virtio" \
		-netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$PORT-:22" -device virtio-net-pci,netdev=n0 \
		-device virtio-rng-pci -device vmcoreinfo -daemonize -pidfile "$S/qemu.pid"
	t0=$(date +%s)
	until ssh -F "$S/ssh_config" -o ConnectTimeout=5 -o BatchMode=yes kdump-guest true 2>/dev/null; do
		sleep 1; [ $(( $(date +%s) - t0 )) -lt 600 ] || { echo "no ssh after 600 s" >&2; exit 1; }
	done
	echo "ssh ready after $(( $(date +%s) - t0 )) s"
	;;
stop)
	S=$(cd "${1:?STATE_DIR}" && pwd)
	[ -f "$S/qemu.pid" ] && kill "$(cat "$S/qemu.pid")" 2>/dev/null || true
	rm -f "$S/qemu.pid"
	;;
ssh)
	S=$(cd "${1:?STATE_DIR}" && pwd); shift
	exec ssh -F "$S/ssh_config" kdump-guest "$@"
	;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
