//! PVH boot entry: the first instructions Axle runs.
//!
//! QEMU's `-kernel` loader finds the `XEN_ELFNOTE_PHYS32_ENTRY` note and enters
//! `_start32` in 32-bit protected mode with paging off and `ebx` holding the physical
//! address of the `hvm_start_info` block (memory map, command line, initrd module).
//! This code switches to long mode on static boot page tables that identity-map the
//! first 4 GiB, map them again at the direct-map base (`0xffff_8000_0000_0000`) and map
//! the first GiB at `KERNEL_OFFSET`, then jumps to [`super::entry::rust_entry`] in the
//! higher half. Everything after that is Rust; `mm::kernel_map` replaces these tables.

use core::arch::global_asm;

global_asm!(
    r#"
    .set KERNEL_OFFSET, 0xffffffff80000000

    /* Xen PVH entry note: name "Xen", type 18 (XEN_ELFNOTE_PHYS32_ENTRY). */
    .pushsection .note.Xen, "a"
    .balign 4
    .long 4
    .long 4
    .long 18
    .asciz "Xen"
    .balign 4
    .long _start32 - KERNEL_OFFSET
    .balign 4
    .popsection

    .pushsection .data.boot, "aw"
    .balign 4096
    .global boot_pml4
boot_pml4:
    .quad boot_pdpt_lo - KERNEL_OFFSET + 0x3
    .fill 255, 8, 0
    .quad boot_pdpt_lo - KERNEL_OFFSET + 0x3
    .fill 254, 8, 0
    .quad boot_pdpt_hi - KERNEL_OFFSET + 0x3
boot_pdpt_lo:
    .quad boot_pd - KERNEL_OFFSET + 0x3
    .quad boot_pd - KERNEL_OFFSET + 0x1003
    .quad boot_pd - KERNEL_OFFSET + 0x2003
    .quad boot_pd - KERNEL_OFFSET + 0x3003
    .fill 508, 8, 0
boot_pdpt_hi:
    .fill 510, 8, 0
    .quad boot_pd - KERNEL_OFFSET + 0x3
    .quad 0
boot_pd:
    .set i, 0
    .rept 2048
    .quad (i << 21) + 0x83
    .set i, i + 1
    .endr
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .quad boot_gdt - KERNEL_OFFSET
    .popsection

    .pushsection .bss.boot, "aw", @nobits
    .balign 16
    .global boot_stack_bottom
boot_stack_bottom:
    .skip 65536
    .global boot_stack_top
boot_stack_top:
    .popsection

    .pushsection .text.boot, "ax"
    .code32
    .global _start32
_start32:
    cli
    cld
    mov edi, ebx
    mov esp, offset boot_stack_top - KERNEL_OFFSET

    /* PAE + PGE */
    mov eax, cr4
    or eax, 0xa0
    mov cr4, eax
    mov eax, offset boot_pml4 - KERNEL_OFFSET
    mov cr3, eax
    /* EFER: LME | NXE | SCE */
    mov ecx, 0xc0000080
    rdmsr
    or eax, 0x901
    wrmsr
    /* PG | WP | PE */
    mov eax, cr0
    or eax, 0x80010001
    mov cr0, eax

    lgdt [boot_gdt_ptr - KERNEL_OFFSET]
    mov eax, 0x08
    push eax
    mov eax, offset start64_low - KERNEL_OFFSET
    push eax
    retf

    .code64
start64_low:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor ax, ax
    mov fs, ax
    mov gs, ax
    movabs rax, offset start64_high
    jmp rax
start64_high:
    movabs rsp, offset boot_stack_top
    xor ebp, ebp
    /* rdi = physical address of hvm_start_info */
    call {entry}
2:
    hlt
    jmp 2b
    .popsection
"#,
    entry = sym super::entry::rust_entry,
);
