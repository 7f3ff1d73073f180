//! The machine code of the vDSO: `clock_gettime`, `gettimeofday` and `time` that read the
//! clock in user mode, from the read-only data page ("vvar") mapped right below the vDSO
//! page. The code finds that page from its own address (`rip & !0xfff` minus 4096), so it
//! is position independent; `linux-abi` wraps it in a one-page ELF shared object.
//!
//! vvar layout (see [`Vvar`]): a sequence counter (odd while the kernel updates), the TSC
//! value at boot, the tick-to-ns multiplier (`>> 48`), and the CLOCK_REALTIME offset.
//! Clocks other than REALTIME/MONOTONIC/BOOTTIME and their coarse/raw variants fall back
//! to the real system call.

use core::arch::global_asm;

global_asm!(
    r#"
    .pushsection .rodata.vdso, "a"
    .balign 16
    .global axle_vdso_code_start
axle_vdso_code_start:

    /* u64 ns in rax for clock class in edi: 0 = monotonic, 1 = realtime.
       Clobbers rcx, rdx, r8, r9, r10, r11. Returns to caller with ns in rax. */
axle_vdso_now:
    lea r10, [rip]
    and r10, -4096
    sub r10, 4096              /* r10 = vvar page */
1:
    mov r8d, dword ptr [r10]   /* seq */
    test r8d, 1
    jnz 1b
    lfence
    rdtsc
    shl rdx, 32
    or rax, rdx
    sub rax, qword ptr [r10 + 8]
    jae 2f
    xor eax, eax
2:
    mul qword ptr [r10 + 16]   /* rdx:rax = ticks * mult */
    shrd rax, rdx, 48
    test edi, edi
    jz 3f
    add rax, qword ptr [r10 + 24]
3:
    mov r9d, dword ptr [r10]
    cmp r8d, r9d
    jne 1b
    ret

    /* int clock_gettime(clockid_t clk, struct timespec *ts) */
    .global axle_vdso_clock_gettime
axle_vdso_clock_gettime:
    mov r11, rsi
    cmp edi, 0                 /* CLOCK_REALTIME */
    je 10f
    cmp edi, 5                 /* CLOCK_REALTIME_COARSE */
    je 10f
    cmp edi, 1                 /* CLOCK_MONOTONIC */
    je 11f
    cmp edi, 4                 /* CLOCK_MONOTONIC_RAW */
    je 11f
    cmp edi, 6                 /* CLOCK_MONOTONIC_COARSE */
    je 11f
    cmp edi, 7                 /* CLOCK_BOOTTIME */
    je 11f
    mov eax, 228
    syscall
    ret
10:
    mov edi, 1
    jmp 12f
11:
    xor edi, edi
12:
    call axle_vdso_now
    xor edx, edx
    mov rcx, 1000000000
    div rcx
    mov qword ptr [r11], rax
    mov qword ptr [r11 + 8], rdx
    xor eax, eax
    ret

    /* int gettimeofday(struct timeval *tv, struct timezone *tz) */
    .global axle_vdso_gettimeofday
axle_vdso_gettimeofday:
    mov r11, rdi
    test rsi, rsi
    jz 20f
    mov qword ptr [rsi], 0
20:
    test rdi, rdi
    jz 21f
    mov edi, 1
    call axle_vdso_now
    xor edx, edx
    mov rcx, 1000000000
    div rcx
    mov qword ptr [r11], rax
    mov rax, rdx
    xor edx, edx
    mov rcx, 1000
    div rcx
    mov qword ptr [r11 + 8], rax
21:
    xor eax, eax
    ret

    /* time_t time(time_t *t) */
    .global axle_vdso_time
axle_vdso_time:
    mov r11, rdi
    mov edi, 1
    call axle_vdso_now
    xor edx, edx
    mov rcx, 1000000000
    div rcx
    test r11, r11
    jz 30f
    mov qword ptr [r11], rax
30:
    ret

    /* int clock_getres(clockid_t clk, struct timespec *res): 1 ns for the fast clocks */
    .global axle_vdso_clock_getres
axle_vdso_clock_getres:
    mov eax, 229
    syscall
    ret

    .global axle_vdso_code_end
axle_vdso_code_end:
    .popsection
"#
);

extern "C" {
    static axle_vdso_code_start: u8;
    static axle_vdso_code_end: u8;
    static axle_vdso_clock_gettime: u8;
    static axle_vdso_gettimeofday: u8;
    static axle_vdso_time: u8;
    static axle_vdso_clock_getres: u8;
}

/// The vDSO code bytes and the offsets of its entry points within them:
/// (code, [("clock_gettime", off), ("gettimeofday", off), ("time", off), ("clock_getres", off)]).
pub fn code() -> (&'static [u8], [(&'static str, usize); 4]) {
    let start = core::ptr::addr_of!(axle_vdso_code_start) as usize;
    let end = core::ptr::addr_of!(axle_vdso_code_end) as usize;
    let off = |p: *const u8| p as usize - start;
    // SAFETY: the bytes between the two labels are the assembled code above, in .rodata.
    let bytes = unsafe { core::slice::from_raw_parts(start as *const u8, end - start) };
    (
        bytes,
        [
            ("clock_gettime", off(core::ptr::addr_of!(axle_vdso_clock_gettime))),
            ("gettimeofday", off(core::ptr::addr_of!(axle_vdso_gettimeofday))),
            ("time", off(core::ptr::addr_of!(axle_vdso_time))),
            ("clock_getres", off(core::ptr::addr_of!(axle_vdso_clock_getres))),
        ],
    )
}

/// The data page the vDSO code reads.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Vvar {
    pub seq: u32,
    pub _pad: u32,
    pub tsc_base: u64,
    pub mult: u64,
    pub realtime_offset: i64,
}
