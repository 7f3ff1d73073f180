"""The Linux reference VM: Debian's kernel + busybox in the QEMU machine Axle uses.

    tools/linuxvm/run-linux [options] -- CMD [ARG...]     (docs/linux-vm.md)

Modules: image (the base initramfs), vm (kernel, command line, KVM probe, one run through
axletools.runner), cli (run-linux). Import with tools/ on sys.path:

    from linuxvm import vm, image
"""
