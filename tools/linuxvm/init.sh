# /etc/linuxvm/init.sh: the boot script of the Linux reference VM (tools/linuxvm,
# docs/linux-vm.md). /init (linuxvm-run as pid 1) has already written `axle: user` on the
# status channel and runs this with busybox sh as pid 1.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# fds 0-2 are the initramfs's /dev/console, now hidden; reopen the devtmpfs one (ttyname).
exec 0<>/dev/console 1>&0 2>&0
mkdir -p /dev/shm /dev/pts
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
hostname -F /etc/hostname
ip link set lo up 2>/dev/null
# `run-linux --net user`: load the virtio network modules (Debian builds them as modules)
# and configure eth0 as QEMU's user network expects (Axle's addresses: docs/networking.md).
if grep -qw 'linuxvm.net=user' /proc/cmdline; then
  if [ -r /lib/linuxvm-modules/order ]; then
    while read -r m; do insmod "$m" || echo "insmod $m failed"; done < /lib/linuxvm-modules/order
  fi
  i=0
  while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  if [ -e /sys/class/net/eth0 ]; then
    ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2
    echo "nameserver 10.0.2.3" > /etc/resolv.conf 2>/dev/null
  else
    echo "linuxvm: --net user: no eth0 (the virtio network modules did not load)" >&2
  fi
fi
cd /
# The command (/etc/axle/cmd, /etc/axle/env from the runner; without them a shell); the
# helper writes `axle: exit N` / `axle: signal N` on the status channel.
/sbin/linuxvm-run run --port 0x4f0 /etc/axle/cmd /etc/axle/env
# Quiet runs (`quiet` on the kernel command line: --log warn/error) end without the
# kernel's "reboot: Power down" on the console.
grep -qw quiet /proc/cmdline && echo 0 > /proc/sys/kernel/printk
poweroff -f
