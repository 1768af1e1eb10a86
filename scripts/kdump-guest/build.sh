#!/bin/bash
# Build the kdump test guest from Debian packages: Debian's own kernel (linux-image-amd64) and an
# initramfs with busybox, kexec-tools, makedumpfile, dropbear and sftp-server. Everything is
# fetched with `apt-get download` (nothing is installed on this machine) and cached outside the
# clone, in $KDUMP_GUEST_DIR (default ~/.cache/kdump-debug/guest).
#
# usage: scripts/kdump-guest/build.sh            prints the build directory on its last line
# Needs on the host: apt-get, dpkg-deb, cpio, gzip, kmod (depmod), openssl, ssh-keygen, ldd; qemu-system-x86
# to run it (scripts/kdump-guest/run.sh and test/long/remote-qemu.test.ts).
#
# Output in $KDUMP_GUEST_DIR/build-<KVER>/:
#   vmlinuz, initramfs.img (target: base + sshd + keys), initrd-capture.img (base, for kexec -p),
#   ssh/id_ed25519 (client key root accepts), ssh/host_ed25519.pub (the guest's host key), kver,
#   System.map placeholder from the package
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${KDUMP_GUEST_DIR:-$HOME/.cache/kdump-debug/guest}
mkdir -p "$CACHE/debs"
cd "$CACHE"

# ---- which kernel: the one linux-image-amd64 depends on today
KPKG=${KDUMP_GUEST_KERNEL_PKG:-$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')}
[ -n "$KPKG" ] || { echo "cannot find the kernel package linux-image-amd64 depends on (run apt-get update?)" >&2; exit 1; }
KVER=${KPKG#linux-image-}
# the cache is keyed on the kernel and on this script + the guest's init (any change rebuilds)
LAYOUT=$(cat "$HERE"/build.sh "$HERE"/init | sha256sum | cut -c1-12)
B=$CACHE/build-$KVER-$LAYOUT
if [ -f "$B/done" ]; then echo "$B"; exit 0; fi

TOOLS="kexec-tools makedumpfile dropbear-bin openssh-sftp-server busybox-static sudo libpam-modules"
LIBS=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
	--no-enhances $TOOLS | grep -E '^lib' | sort -u | grep -vE '^(libc6|libgcc-s1|libperl|libsemanage|libsepol|libdebian-installer|libnewt|libslang|libtextwrap|libgdbm|libreadline|libtinfo|libpam-modules-bin|libpam-runtime)' | tr '\n' ' ')
(cd debs && apt-get download $KPKG $TOOLS $LIBS >/dev/null 2>&1) || (cd debs && apt-get download $KPKG $TOOLS $LIBS)

rm -rf "$B.tmp"; mkdir -p "$B.tmp"; T=$B.tmp
STAGE=$T/stage
mkdir -p "$STAGE"
for pkg in $KPKG $TOOLS $LIBS; do
	deb=$(ls debs/"${pkg}"_*.deb 2>/dev/null | head -1)
	[ -n "$deb" ] || { echo "missing download for $pkg" >&2; exit 1; }
	dpkg-deb -x "$deb" "$STAGE"
done
LIBPATH=$STAGE/usr/lib/x86_64-linux-gnu:$STAGE/lib/x86_64-linux-gnu:$STAGE/usr/libexec/sudo

BASE=$T/root-base
EXTRA=$T/root-extra
mkroot() { # merged-/usr layout like Debian 12
	local r=$1
	mkdir -p "$r"/usr/bin "$r"/usr/sbin "$r"/usr/lib/x86_64-linux-gnu "$r"/usr/lib64 "$r"/etc "$r"/proc \
		"$r"/sys "$r"/dev "$r"/run "$r"/tmp "$r"/mnt "$r"/root "$r"/boot "$r"/var/crash "$r"/var/log
	ln -sfn usr/bin "$r"/bin; ln -sfn usr/sbin "$r"/sbin; ln -sfn usr/lib "$r"/lib; ln -sfn usr/lib64 "$r"/lib64
	chmod 1777 "$r"/tmp; chmod 700 "$r"/root
}
copy_file() { mkdir -p "$2$(dirname "$3")"; cp -L "$1" "$2$3"; }
copy_bin() { # SRC ROOT DEST : binary + shared libraries (resolved in the staged packages, then the host)
	local src=$1 r=$2 dst=$3 lib
	copy_file "$src" "$r" "$dst"
	if LD_LIBRARY_PATH=$LIBPATH ldd "$src" | grep -q 'not found'; then
		echo "unresolved libraries for $src:" >&2; LD_LIBRARY_PATH=$LIBPATH ldd "$src" >&2; exit 1
	fi
	for lib in $(LD_LIBRARY_PATH=$LIBPATH ldd "$src" | awk '/=>/ {print $3} $1 ~ /^\/.*ld-linux/ {print $1}'); do
		[ -f "$lib" ] || continue
		local rel=${lib#"$STAGE"}
		case "$rel" in /lib/*|/lib64/*) rel=/usr$rel ;; esac
		copy_file "$lib" "$r" "$rel"
	done
}

# ---- base layer: normal and capture kernel
mkroot "$BASE"
cp "$STAGE"/bin/busybox "$BASE"/usr/bin/busybox
for a in $("$STAGE"/bin/busybox --list-full); do
	case "$a" in bin/*|sbin/*) a=usr/$a ;; esac
	[ -e "$BASE/$a" ] || ln -s /usr/bin/busybox "$BASE/$a"
done
copy_bin "$STAGE"/sbin/kexec "$BASE" /usr/sbin/kexec
copy_bin "$STAGE"/usr/bin/makedumpfile "$BASE" /usr/sbin/makedumpfile

# kernel modules: virtio disk/net/rng, ext4, fw_cfg (QEMU vmcoreinfo), in dependency order
depmod -b "$STAGE" "$KVER"
mkdir -p "$BASE"/etc/kdt
: > "$T/mods"
for m in virtio_pci virtio_blk virtio_net virtio_rng ext4 qemu_fw_cfg; do
	modprobe -d "$STAGE" -S "$KVER" --show-depends "$m" | awk '$1 == "insmod" {print $2}' >> "$T/mods"
done
awk '!seen[$0]++' "$T/mods" | while read -r ko; do
	rel=${ko#"$STAGE"}
	case "$rel" in /lib/*) rel=/usr$rel ;; esac
	copy_file "$ko" "$BASE" "$rel"
	echo "$rel"
done > "$BASE"/etc/kdt/modules.order

install -m 755 "$HERE"/init "$BASE"/init
echo "reset_devices irqpoll nr_cpus=1 usbcore.nousb panic=10" > "$BASE"/etc/kdt/capture-append
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$BASE"/etc/passwd
printf 'root:*:19000:0:99999:7:::\n' > "$BASE"/etc/shadow; chmod 600 "$BASE"/etc/shadow
printf 'root:x:0:\ntty:x:5:\n' > "$BASE"/etc/group
echo /bin/sh > "$BASE"/etc/shells
echo 'export PATH=/usr/sbin:/usr/bin:/sbin:/bin' > "$BASE"/etc/profile
printf '/usr/lib/x86_64-linux-gnu\n' > "$BASE"/etc/ld.so.conf
ldconfig -r "$BASE"

mkcpio() { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -6 -n) > "$2"; }
mkcpio "$BASE" "$T/initrd-capture.img"

# ---- extra layer: normal kernel only (capture kernel files, sshd, keys)
mkroot "$EXTRA"
cp "$STAGE"/boot/vmlinuz-"$KVER" "$T"/vmlinuz
cp "$STAGE"/boot/vmlinuz-"$KVER" "$EXTRA"/boot/vmlinuz-"$KVER"
cp "$T/initrd-capture.img" "$EXTRA"/boot/initrd-capture.img-"$KVER"
cp "$STAGE"/boot/config-"$KVER" "$STAGE"/boot/System.map-"$KVER" "$EXTRA"/boot/ 2>/dev/null || true
cp "$STAGE"/boot/System.map-"$KVER" "$T"/System.map 2>/dev/null || true
copy_bin "$STAGE"/usr/sbin/dropbear "$EXTRA" /usr/sbin/dropbear
copy_bin "$STAGE"/usr/lib/openssh/sftp-server "$EXTRA" /usr/lib/sftp-server   # dropbear's SFTPSERVER_PATH
printf '::sysinit:/bin/true\n::ctrlaltdel:/sbin/reboot\n::shutdown:/bin/sync\n::shutdown:/bin/umount -a -r\n' > "$EXTRA"/etc/inittab

mkdir -p "$T"/ssh
ssh-keygen -q -t ed25519 -N '' -C kdump-guest-client -f "$T"/ssh/id_ed25519
LD_LIBRARY_PATH=$LIBPATH "$STAGE"/usr/bin/dropbearkey -t ed25519 -f "$T"/ssh/dropbear_ed25519_host_key > /dev/null
LD_LIBRARY_PATH=$LIBPATH "$STAGE"/usr/bin/dropbearkey -y -f "$T"/ssh/dropbear_ed25519_host_key | awk '/^ssh-/ {print $1, $2}' > "$T"/ssh/host_ed25519.pub
mkdir -p "$EXTRA"/etc/dropbear "$EXTRA"/root/.ssh
install -m 600 "$T"/ssh/dropbear_ed25519_host_key "$EXTRA"/etc/dropbear/
install -m 600 "$T"/ssh/id_ed25519.pub "$EXTRA"/root/.ssh/authorized_keys
chmod 700 "$EXTRA"/root/.ssh
# two non-root users for the sudo paths: kdd (sudo with a password) and kdn (sudo NOPASSWD);
# both log in with the same client key; the password of kdd is in ssh/kdd-password
copy_bin "$STAGE"/usr/bin/sudo "$EXTRA" /usr/bin/sudo
chmod 4755 "$EXTRA"/usr/bin/sudo
for so in "$STAGE"/usr/libexec/sudo/*.so*; do copy_bin "$so" "$EXTRA" "${so#"$STAGE"}"; done
for m in pam_unix.so pam_permit.so pam_deny.so; do
	copy_bin "$STAGE"/lib/x86_64-linux-gnu/security/$m "$EXTRA" /usr/lib/x86_64-linux-gnu/security/$m
done
mkdir -p "$EXTRA"/etc/pam.d "$EXTRA"/home/kdd/.ssh "$EXTRA"/home/kdn/.ssh
printf 'auth required pam_unix.so\naccount required pam_unix.so\nsession required pam_permit.so\n' > "$EXTRA"/etc/pam.d/sudo
printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\n' > "$EXTRA"/etc/pam.d/other
printf 'Defaults env_reset\nDefaults !lecture\nroot ALL=(ALL:ALL) ALL\nkdd ALL=(ALL:ALL) ALL\nkdn ALL=(ALL:ALL) NOPASSWD: ALL\n' > "$EXTRA"/etc/sudoers
chmod 440 "$EXTRA"/etc/sudoers
printf 'Set disable_coredump false\n' > "$EXTRA"/etc/sudo.conf
head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T"/ssh/kdd-password
HASH=$(openssl passwd -6 -stdin < "$T"/ssh/kdd-password)
printf 'root:x:0:0:root:/root:/bin/sh\nkdd:x:1000:1000:kdd:/home/kdd:/bin/sh\nkdn:x:1001:1001:kdn:/home/kdn:/bin/sh\n' > "$EXTRA"/etc/passwd
printf 'root:*:19000:0:99999:7:::\nkdd:%s:19000:0:99999:7:::\nkdn:*:19000:0:99999:7:::\n' "$HASH" > "$EXTRA"/etc/shadow
chmod 600 "$EXTRA"/etc/shadow
printf 'root:x:0:\ntty:x:5:\nkdd:x:1000:\nkdn:x:1001:\n' > "$EXTRA"/etc/group
printf '127.0.0.1 localhost\n127.0.1.1 kdump-guest\n' > "$EXTRA"/etc/hosts
for u in kdd kdn; do install -m 600 "$T"/ssh/id_ed25519.pub "$EXTRA"/home/$u/.ssh/authorized_keys; done
# ld.so.cache over the union of both layers
rm -rf "$T/union"; cp -a "$BASE" "$T/union"; cp -a "$EXTRA"/. "$T/union"/
ldconfig -r "$T/union"; cp "$T/union"/etc/ld.so.cache "$EXTRA"/etc/ld.so.cache; rm -rf "$T/union"
rm -f "$EXTRA"/bin "$EXTRA"/sbin "$EXTRA"/lib "$EXTRA"/lib64
mkcpio "$EXTRA" "$T/extra.cpio.gz"
cat "$T/initrd-capture.img" "$T/extra.cpio.gz" > "$T/initramfs.img"
rm -rf "$T/extra.cpio.gz" "$STAGE" "$BASE" "$EXTRA" "$T/mods"
echo "$KVER" > "$T/kver"
touch "$T/done"
rm -rf "$B"; mv "$T" "$B"
echo "$B"
