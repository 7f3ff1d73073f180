//! `memory` suite: the memory-management system calls and the faults they cause.
//!
//! Covers: anonymous `mmap` (private and shared), file-backed `mmap` (private and
//! shared, with offsets) of files in /tmp and /dev/shm, address hints, `MAP_FIXED`
//! replacing part of a mapping, `MAP_FIXED_NOREPLACE` (EEXIST over a mapping),
//! `MAP_STACK`, `MAP_NORESERVE`, `MAP_POPULATE` + `mincore`; the mmap error cases
//! (EINVAL, ENOMEM, EBADF, EACCES for the wrong open mode, ENODEV for a pipe);
//! `munmap` of part of a mapping and its EINVAL cases; `mprotect` (writes to a
//! read-only page and reads of a PROT_NONE page raise SIGSEGV/SEGV_ACCERR with the
//! exact si_addr; restoring the protection keeps the data; EACCES on a read-only
//! shared file mapping; ENOMEM/EINVAL); `mremap` (grow in place, grow with
//! MREMAP_MAYMOVE when blocked, shrink, MREMAP_FIXED, EINVAL/EFAULT/ENOMEM);
//! `madvise(MADV_DONTNEED)` (zeroes private anonymous pages, keeps shared ones,
//! private file pages revert to the file); `brk` (grow, shrink, new area zeroed);
//! `msync` and the coherence of a shared file mapping with read()/write();
//! `mlock`/`munlock`/`mlockall`/`munlockall`; demand paging of 256 MiB;
//! copy-on-write after fork; one MAP_SHARED file mapped at two addresses in one
//! process and in two processes (the same physical memory); SIGBUS/BUS_ADRERR past
//! the end of a mapped file; SIGSEGV/SEGV_MAPERR with the exact si_addr for unmapped
//! addresses (user and kernel half) and SI_KERNEL for a non-canonical address.
//!
//! Faults are observed two ways: a forked child touches the address and must die of
//! the signal, or an SA_SIGINFO handler records (signal, si_code, si_addr) and
//! resumes the program at a recovery label placed after the faulting instruction
//! (an inline-asm probe; the handler rewrites RIP in the ucontext).

use checks::{ensure, ensure_eq, expect_sys_errno, sys_ok, syscall, CheckResult, Suite};
use libc::{c_int, c_long};
use std::ffi::CString;
use std::ptr::{read_volatile, write_volatile};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

const PAGE: usize = 4096;
const R: c_int = libc::PROT_READ;
const RW: c_int = libc::PROT_READ | libc::PROT_WRITE;
const PRIV: c_int = libc::MAP_PRIVATE;
const SHARED: c_int = libc::MAP_SHARED;
const ANON: c_int = libc::MAP_ANONYMOUS;
const FIXED: c_int = libc::MAP_FIXED;
const MAP_FIXED_NOREPLACE: c_int = 0x10_0000;
const MAP_STACK: c_int = 0x2_0000;
const MAP_NORESERVE: c_int = 0x4000;
const MAP_POPULATE: c_int = 0x8000;
const SEGV_MAPERR: i32 = 1;
const SEGV_ACCERR: i32 = 2;
const BUS_ADRERR: i32 = 2;
const SI_KERNEL: i32 = 0x80;
const MREMAP_MAYMOVE: c_int = 1;
const MREMAP_FIXED: c_int = 2;
const MCL_CURRENT: c_int = 1;
const MCL_FUTURE: c_int = 2;
const MCL_ONFAULT: c_int = 4;
const MADV_DONTNEED: c_int = 4;
const MADV_NOHUGEPAGE: c_int = 15;
const MS_ASYNC: c_int = 1;
const MS_INVALIDATE: c_int = 2;
const MS_SYNC: c_int = 4;

fn main() {
    let mut s = Suite::new("memory");
    s.check("anon_private_zeroed_rw", anon_private_zeroed_rw);
    s.check("anon_shared_fork", anon_shared_fork);
    s.check("mmap_hint_honored", mmap_hint_honored);
    s.check("file_private", file_private);
    s.check("file_shared_coherent", file_shared_coherent);
    s.check("msync_errors", msync_errors);
    s.check("map_fixed_replaces", map_fixed_replaces);
    s.check("map_fixed_noreplace", map_fixed_noreplace);
    s.check("map_stack_noreserve", map_stack_noreserve);
    s.check("map_populate_mincore", map_populate_mincore);
    s.check("mincore_errors", mincore_errors);
    s.check("mmap_einval", mmap_einval);
    s.check("mmap_enomem", mmap_enomem);
    s.check("mmap_file_ebadf_eacces", mmap_file_ebadf_eacces);
    s.check(
        "mprotect_shared_rdonly_fd_eacces",
        mprotect_shared_rdonly_fd_eacces,
    );
    s.check("mmap_pipe_enodev", mmap_pipe_enodev);
    s.check("munmap_partial", munmap_partial);
    s.check("munmap_einval", munmap_einval);
    s.check(
        "mprotect_read_only_write_faults",
        mprotect_read_only_write_faults,
    );
    s.check("mprotect_none_read_faults", mprotect_none_read_faults);
    s.check("mprotect_none_untouched_page", mprotect_none_untouched_page);
    s.check("mprotect_errors", mprotect_errors);
    s.check("mremap_grow_in_place", mremap_grow_in_place);
    s.check("mremap_grow_maymove", mremap_grow_maymove);
    s.check("mremap_shrink", mremap_shrink);
    s.check("mremap_fixed", mremap_fixed);
    s.check("mremap_errors", mremap_errors);
    s.check("madvise_dontneed", madvise_dontneed);
    s.check("madvise_errors", madvise_errors);
    s.check("brk_grow_shrink_zeroed", brk_grow_shrink_zeroed);
    s.check("mlock_munlock", mlock_munlock);
    s.check("mlockall_munlockall", mlockall_munlockall);
    s.check("demand_paging_256mib", demand_paging_256mib);
    s.check("cow_after_fork_private", cow_after_fork_private);
    s.check("shared_file_two_addresses", shared_file_two_addresses);
    s.check("shared_file_across_fork", shared_file_across_fork);
    s.check("sigbus_beyond_eof", sigbus_beyond_eof);
    s.check("sigsegv_unmapped_addr", sigsegv_unmapped_addr);
    s.check("sigsegv_kernel_address", sigsegv_kernel_address);
    s.check("sigsegv_noncanonical", sigsegv_noncanonical);
    s.finish();
}

// ---------------------------------------------------------------------------
// Helpers: mappings, files, fork, fault probes.

unsafe fn mmap_raw(
    addr: usize,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: i64,
) -> c_long {
    syscall!(libc::SYS_mmap, addr, len, prot, flags, fd, off)
}

/// A mapping that is unmapped when dropped (so a failing check cleans up too).
struct Map {
    addr: usize,
    len: usize,
}

impl Map {
    fn new(
        addr: usize,
        len: usize,
        prot: c_int,
        flags: c_int,
        fd: c_int,
        off: i64,
    ) -> Result<Map, String> {
        let p = sys_ok(
            &format!(
                "mmap({addr:#x}, {len:#x}, prot {prot:#x}, flags {flags:#x}, fd {fd}, off {off})"
            ),
            || unsafe { mmap_raw(addr, len, prot, flags, fd, off) },
        )? as usize;
        let m = Map { addr: p, len };
        ensure!(p % PAGE == 0, "mmap returned unaligned address {p:#x}");
        if flags & (FIXED | MAP_FIXED_NOREPLACE) != 0 {
            ensure_eq!(p, addr, "address returned by a fixed mmap");
        }
        Ok(m)
    }
    fn anon(len: usize) -> Result<Map, String> {
        Map::new(0, len, RW, PRIV | ANON, -1, 0)
    }
    fn at(&self, off: usize) -> *mut u8 {
        (self.addr + off) as *mut u8
    }
    fn read(&self, off: usize) -> u8 {
        unsafe { read_volatile(self.at(off)) }
    }
    fn write(&self, off: usize, v: u8) {
        unsafe { write_volatile(self.at(off), v) }
    }
    /// Forgets the mapping (it was unmapped or moved by the check itself).
    fn forget(mut self) {
        self.len = 0;
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        if self.len > 0 {
            unsafe { syscall!(libc::SYS_munmap, self.addr, self.len) };
        }
    }
}

fn munmap(addr: usize, len: usize) -> CheckResult {
    let r = sys_ok(&format!("munmap({addr:#x}, {len:#x})"), || unsafe {
        syscall!(libc::SYS_munmap, addr, len)
    })?;
    ensure_eq!(r, 0, "munmap({addr:#x}, {len:#x})");
    Ok(())
}

fn mprotect(addr: usize, len: usize, prot: c_int) -> CheckResult {
    let r = sys_ok(
        &format!("mprotect({addr:#x}, {len:#x}, {prot:#x})"),
        || unsafe { syscall!(libc::SYS_mprotect, addr, len, prot) },
    )?;
    ensure_eq!(r, 0, "mprotect({addr:#x}, {len:#x}, {prot:#x})");
    Ok(())
}

/// The deterministic content byte of a test file or pattern at offset `i`.
fn pattern(i: usize, seed: u8) -> u8 {
    ((i * 7 + i / 4096 * 13) as u8) ^ seed
}

/// Fills `len` bytes at `m.addr + off` with the pattern (every byte).
fn fill(m: &Map, off: usize, len: usize, seed: u8) {
    for i in off..off + len {
        m.write(i, pattern(i, seed));
    }
}

/// Verifies the pattern written by [`fill`] (`what` names the region in errors).
fn verify(m: &Map, off: usize, len: usize, seed: u8, what: &str) -> CheckResult {
    for i in (off..off + len).step_by(7).chain([off + len - 1]) {
        let got = m.read(i);
        let want = pattern(i, seed);
        ensure!(
            got == want,
            "{what}: byte at offset {i:#x} is {got:#x}, expected {want:#x}"
        );
    }
    Ok(())
}

fn verify_zero(m: &Map, off: usize, len: usize, what: &str) -> CheckResult {
    for i in (0..len).step_by(509).chain([len - 1]) {
        let got = m.read(off + i);
        ensure!(
            got == 0,
            "{what}: byte at offset {:#x} is {got:#x}, expected 0",
            off + i
        );
    }
    Ok(())
}

/// An open file descriptor, closed when dropped.
struct Fd(c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        unsafe { libc::close(self.0) };
    }
}

static FILE_SEQ: AtomicU32 = AtomicU32::new(0);

/// A temporary file filled with the pattern, unlinked (and closed) when dropped.
struct TempFile {
    path: CString,
    fd: Fd,
}

impl TempFile {
    fn new(dir: &str, size: usize, seed: u8) -> Result<TempFile, String> {
        let n = FILE_SEQ.fetch_add(1, SeqCst);
        let path = format!("{dir}/axle-memory-{}-{n}", std::process::id());
        let cpath = CString::new(path.clone()).unwrap();
        let fd = sys_ok(&format!("open({path})"), || unsafe {
            syscall!(
                libc::SYS_openat,
                libc::AT_FDCWD,
                cpath.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                0o600
            )
        })? as c_int;
        let f = TempFile {
            path: cpath,
            fd: Fd(fd),
        };
        let data: Vec<u8> = (0..size).map(|i| pattern(i, seed)).collect();
        f.pwrite(0, &data)?;
        Ok(f)
    }
    fn fd(&self) -> c_int {
        self.fd.0
    }
    fn open(&self, flags: c_int) -> Result<Fd, String> {
        let fd = sys_ok(&format!("open({:?}, {flags:#x})", self.path), || unsafe {
            syscall!(
                libc::SYS_openat,
                libc::AT_FDCWD,
                self.path.as_ptr(),
                flags | libc::O_CLOEXEC
            )
        })?;
        Ok(Fd(fd as c_int))
    }
    fn pwrite(&self, off: usize, data: &[u8]) -> CheckResult {
        let n = sys_ok("pwrite64", || unsafe {
            syscall!(
                libc::SYS_pwrite64,
                self.fd(),
                data.as_ptr(),
                data.len(),
                off
            )
        })?;
        ensure_eq!(n as usize, data.len(), "bytes written by pwrite64 at {off}");
        Ok(())
    }
    fn pread(&self, off: usize, len: usize) -> Result<Vec<u8>, String> {
        let mut buf = vec![0u8; len];
        let n = sys_ok("pread64", || unsafe {
            syscall!(libc::SYS_pread64, self.fd(), buf.as_mut_ptr(), len, off)
        })?;
        ensure_eq!(n as usize, len, "bytes read by pread64 at {off}");
        Ok(buf)
    }
    fn truncate(&self, len: usize) -> CheckResult {
        sys_ok("ftruncate", || unsafe {
            syscall!(libc::SYS_ftruncate, self.fd(), len)
        })?;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        unsafe { libc::unlink(self.path.as_ptr()) };
    }
}

/// Forks; the child runs `f` and exits with its result (99 if it panics). Returns
/// the child's wait status.
fn fork_run(f: impl FnOnce() -> i32) -> Result<c_int, String> {
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork failed with errno {}", checks::errno()));
    }
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(99);
        unsafe { libc::_exit(code) };
    }
    wait_child(pid)
}

fn wait_child(pid: c_int) -> Result<c_int, String> {
    let mut st: c_int = 0;
    loop {
        let r = unsafe { syscall!(libc::SYS_wait4, pid, &raw mut st, 0, 0) };
        if r == pid as c_long {
            return Ok(st);
        }
        if r == -1 && checks::errno() == libc::EINTR {
            continue;
        }
        return Err(format!(
            "wait4({pid}) returned {r}, errno {}",
            checks::errno()
        ));
    }
}

fn describe(st: c_int) -> String {
    if libc::WIFEXITED(st) {
        format!("exited with {}", libc::WEXITSTATUS(st))
    } else if libc::WIFSIGNALED(st) {
        format!("killed by signal {}", libc::WTERMSIG(st))
    } else {
        format!("wait status {st:#x}")
    }
}

fn ensure_exit0(st: c_int, what: &str) -> CheckResult {
    ensure!(
        libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
        "{what}: child {}",
        describe(st)
    );
    Ok(())
}

/// A forked child touches `addr` (reads, or writes if `write`) with the default
/// signal dispositions and must be killed by `sig`.
fn child_dies_of(addr: usize, write: bool, sig: c_int) -> CheckResult {
    let st = fork_run(|| unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
        if write {
            write_volatile(addr as *mut u8, 0x5a);
        } else {
            read_volatile(addr as *const u8);
        }
        0
    })?;
    ensure!(
        libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == sig,
        "child that {} {addr:#x}: {}, expected killed by signal {sig}",
        if write { "wrote" } else { "read" },
        describe(st)
    );
    Ok(())
}

/// Recovery address of the probe in progress (0: none; a fault then is fatal).
static RECOVER: AtomicUsize = AtomicUsize::new(0);
static FAULT_SIG: AtomicI32 = AtomicI32::new(0);
static FAULT_CODE: AtomicI32 = AtomicI32::new(0);
static FAULT_ADDR: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_fault(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let rec = RECOVER.load(SeqCst);
    if rec == 0 {
        // Not a probe: die of the signal (the faulting access is retried).
        unsafe { libc::signal(sig, libc::SIG_DFL) };
        return;
    }
    unsafe {
        FAULT_SIG.store(sig, SeqCst);
        FAULT_CODE.store((*info).si_code, SeqCst);
        FAULT_ADDR.store((*info).si_addr() as usize, SeqCst);
        let uc = ctx as *mut libc::ucontext_t;
        (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] = rec as i64;
        (*uc).uc_mcontext.gregs[libc::REG_RAX as usize] = 1;
    }
}

/// SIGSEGV and SIGBUS handled by [`on_fault`] while alive; the previous actions
/// are restored on drop.
struct FaultHandlers {
    old: [(c_int, libc::sigaction); 2],
}

impl FaultHandlers {
    fn install() -> Result<FaultHandlers, String> {
        let mut old: [(c_int, libc::sigaction); 2] = unsafe { std::mem::zeroed() };
        for (i, sig) in [libc::SIGSEGV, libc::SIGBUS].into_iter().enumerate() {
            let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
            sa.sa_sigaction =
                on_fault as extern "C" fn(c_int, *mut libc::siginfo_t, *mut libc::c_void) as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            unsafe { libc::sigemptyset(&mut sa.sa_mask) };
            old[i].0 = sig;
            let r = unsafe { libc::sigaction(sig, &sa, &mut old[i].1) };
            ensure!(r == 0, "sigaction({sig}) failed, errno {}", checks::errno());
        }
        Ok(FaultHandlers { old })
    }
}

impl Drop for FaultHandlers {
    fn drop(&mut self) {
        for (sig, old) in &self.old {
            if *sig != 0 {
                unsafe { libc::sigaction(*sig, old, std::ptr::null_mut()) };
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fault {
    sig: i32,
    code: i32,
    addr: usize,
}

/// Reads (`write == None`) or writes one byte at `addr`; a SIGSEGV/SIGBUS it causes
/// is caught and returned as `Err(Fault)`.
fn probe(addr: usize, write: Option<u8>) -> Result<Result<u8, Fault>, String> {
    let _handlers = FaultHandlers::install()?;
    FAULT_SIG.store(0, SeqCst);
    FAULT_CODE.store(0, SeqCst);
    FAULT_ADDR.store(0, SeqCst);
    let faulted: u64;
    let mut val: u64 = 0;
    unsafe {
        match write {
            None => std::arch::asm!(
                "lea {tmp}, [rip + 3f]",
                "mov qword ptr [{slot}], {tmp}",
                "xor eax, eax",
                "movzx {val:e}, byte ptr [{addr}]",
                "3:",
                "mov qword ptr [{slot}], 0",
                slot = in(reg) RECOVER.as_ptr(),
                addr = in(reg) addr,
                tmp = out(reg) _,
                val = out(reg) val,
                out("rax") faulted,
                options(nostack),
            ),
            Some(v) => std::arch::asm!(
                "lea {tmp}, [rip + 3f]",
                "mov qword ptr [{slot}], {tmp}",
                "xor eax, eax",
                "mov byte ptr [{addr}], {v}",
                "3:",
                "mov qword ptr [{slot}], 0",
                slot = in(reg) RECOVER.as_ptr(),
                addr = in(reg) addr,
                v = in(reg_byte) v,
                tmp = out(reg) _,
                out("rax") faulted,
                options(nostack),
            ),
        }
    }
    if faulted != 0 {
        Ok(Err(Fault {
            sig: FAULT_SIG.load(SeqCst),
            code: FAULT_CODE.load(SeqCst),
            addr: FAULT_ADDR.load(SeqCst),
        }))
    } else {
        Ok(Ok(val as u8))
    }
}

fn sig_name(sig: c_int) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        _ => "signal",
    }
}

/// The access must fault with exactly (sig, code, si_addr == addr).
fn expect_fault(
    addr: usize,
    write: Option<u8>,
    sig: c_int,
    code: i32,
    want_addr: usize,
) -> CheckResult {
    let kind = if write.is_some() { "write" } else { "read" };
    match probe(addr, write)? {
        Ok(v) => Err(format!(
            "{kind} at {addr:#x} succeeded (value {v:#x}), expected {} code {code}",
            sig_name(sig)
        )),
        Err(f) => {
            let want = Fault {
                sig,
                code,
                addr: want_addr,
            };
            ensure!(
                f == want,
                "{kind} at {addr:#x}: got signal {} code {} si_addr {:#x}, expected signal {} code {} si_addr {:#x}",
                f.sig,
                f.code,
                f.addr,
                want.sig,
                want.code,
                want.addr
            );
            Ok(())
        }
    }
}

/// The access must not fault; returns the byte read.
fn expect_ok(addr: usize, write: Option<u8>) -> Result<u8, String> {
    match probe(addr, write)? {
        Ok(v) => Ok(v),
        Err(f) => Err(format!(
            "{} at {addr:#x} faulted: signal {} code {} si_addr {:#x}",
            if write.is_some() { "write" } else { "read" },
            f.sig,
            f.code,
            f.addr
        )),
    }
}

fn mincore(addr: usize, pages: usize) -> Result<Vec<u8>, String> {
    let mut vec = vec![0xeeu8; pages];
    sys_ok(&format!("mincore({addr:#x}, {pages} pages)"), || unsafe {
        syscall!(libc::SYS_mincore, addr, pages * PAGE, vec.as_mut_ptr())
    })?;
    Ok(vec)
}

// ---------------------------------------------------------------------------
// mmap basics

fn anon_private_zeroed_rw() -> CheckResult {
    let m = Map::anon(16 * PAGE)?;
    verify_zero(&m, 0, 16 * PAGE, "fresh private anonymous mapping")?;
    fill(&m, 0, 16 * PAGE, 0x11);
    verify(&m, 0, 16 * PAGE, 0x11, "private anonymous mapping")?;
    let a = m.addr;
    m.forget();
    munmap(a, 16 * PAGE)
}

fn anon_shared_fork() -> CheckResult {
    let m = Map::new(0, 2 * PAGE, RW, SHARED | ANON, -1, 0)?;
    verify_zero(&m, 0, 2 * PAGE, "fresh shared anonymous mapping")?;
    m.write(10, 0xa1);
    let addr = m.addr;
    let st = fork_run(|| unsafe {
        let p = addr as *mut u8;
        if read_volatile(p.add(10)) != 0xa1 {
            return 1;
        }
        write_volatile(p.add(PAGE + 20), 0xb2);
        0
    })?;
    ensure_exit0(st, "child of a shared anonymous mapping")?;
    ensure_eq!(
        m.read(PAGE + 20),
        0xb2,
        "parent's view of the child's write to MAP_SHARED|MAP_ANONYMOUS"
    );
    Ok(())
}

fn mmap_hint_honored() -> CheckResult {
    // A free, aligned hint is used as is (without MAP_FIXED).
    let r = Map::anon(4 * PAGE)?;
    let hint = r.addr + PAGE;
    drop(r);
    let m = Map::new(hint, 2 * PAGE, RW, PRIV | ANON, -1, 0)?;
    ensure_eq!(m.addr, hint, "mmap with a free hint address");
    // An unaligned hint over a mapped page is only a hint: some other free address.
    let n = Map::new(hint + 5, PAGE, RW, PRIV | ANON, -1, 0)?;
    ensure!(
        n.addr % PAGE == 0 && n.addr != m.addr,
        "mmap with an unaligned hint returned {:#x}",
        n.addr
    );
    Ok(())
}

fn file_private() -> CheckResult {
    let f = TempFile::new("/tmp", 3 * PAGE, 0x21)?;
    let m = Map::new(0, 3 * PAGE, RW, PRIV, f.fd(), 0)?;
    verify(&m, 0, 3 * PAGE, 0x21, "private file mapping")?;
    // An offset maps the file from there.
    let o = Map::new(0, 2 * PAGE, R, PRIV, f.fd(), PAGE as i64)?;
    for i in (0..2 * PAGE).step_by(97) {
        ensure_eq!(
            o.read(i),
            pattern(PAGE + i, 0x21),
            "private file mapping at offset 4096, byte {i}"
        );
    }
    // Writes stay private: the file does not change.
    for i in (0..3 * PAGE).step_by(512) {
        m.write(i, !pattern(i, 0x21));
    }
    for i in (0..3 * PAGE).step_by(512) {
        ensure_eq!(
            m.read(i),
            !pattern(i, 0x21),
            "private file mapping after a write, byte {i}"
        );
    }
    let data = f.pread(0, 3 * PAGE)?;
    for i in (0..3 * PAGE).step_by(512) {
        ensure_eq!(
            data[i],
            pattern(i, 0x21),
            "file byte {i} after writes to a MAP_PRIVATE mapping"
        );
    }
    Ok(())
}

fn file_shared_coherent() -> CheckResult {
    let f = TempFile::new("/dev/shm", 2 * PAGE, 0x31)?;
    let m = Map::new(0, 2 * PAGE, RW, SHARED, f.fd(), 0)?;
    verify(&m, 0, 2 * PAGE, 0x31, "shared file mapping")?;
    // Store through the mapping, msync, read() sees it.
    for (i, b) in b"via mapping".iter().enumerate() {
        m.write(PAGE + 100 + i, *b);
    }
    for flags in [MS_SYNC, MS_ASYNC, MS_INVALIDATE] {
        let r = sys_ok(&format!("msync(flags {flags})"), || unsafe {
            syscall!(libc::SYS_msync, m.addr, 2 * PAGE, flags)
        })?;
        ensure_eq!(r, 0, "msync(flags {flags})");
    }
    ensure_eq!(
        &f.pread(PAGE + 100, 11)?[..],
        &b"via mapping"[..],
        "pread after a store to the mapping + msync"
    );
    // write() through the fd is visible in the mapping without msync.
    f.pwrite(200, b"via write")?;
    let got: Vec<u8> = (0..9).map(|i| m.read(200 + i)).collect();
    ensure_eq!(
        &got[..],
        &b"via write"[..],
        "mapping after pwrite to the file"
    );
    // The data stays in the file after munmap.
    let a = m.addr;
    m.forget();
    munmap(a, 2 * PAGE)?;
    ensure_eq!(
        &f.pread(PAGE + 100, 11)?[..],
        &b"via mapping"[..],
        "file after munmap"
    );
    Ok(())
}

fn msync_errors() -> CheckResult {
    let f = TempFile::new("/tmp", PAGE, 0x41)?;
    let m = Map::new(0, PAGE, RW, SHARED, f.fd(), 0)?;
    expect_sys_errno(
        "msync(unaligned)",
        || unsafe { syscall!(libc::SYS_msync, m.addr + 1, 10, MS_SYNC) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "msync(MS_SYNC|MS_ASYNC)",
        || unsafe { syscall!(libc::SYS_msync, m.addr, PAGE, MS_SYNC | MS_ASYNC) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "msync(flags 8)",
        || unsafe { syscall!(libc::SYS_msync, m.addr, PAGE, 8) },
        libc::EINVAL,
    )?;
    let hole = Map::anon(PAGE)?;
    let h = hole.addr;
    drop(hole);
    expect_sys_errno(
        "msync(unmapped)",
        || unsafe { syscall!(libc::SYS_msync, h, PAGE, MS_SYNC) },
        libc::ENOMEM,
    )?;
    Ok(())
}

fn map_fixed_replaces() -> CheckResult {
    let m = Map::anon(4 * PAGE)?;
    fill(&m, 0, 4 * PAGE, 0x51);
    let p = sys_ok("mmap(MAP_FIXED over page 1)", || unsafe {
        mmap_raw(m.addr + PAGE, PAGE, RW, PRIV | ANON | FIXED, -1, 0)
    })? as usize;
    ensure_eq!(p, m.addr + PAGE, "address returned by mmap(MAP_FIXED)");
    verify_zero(&m, PAGE, PAGE, "page replaced by MAP_FIXED")?;
    verify(&m, 0, PAGE, 0x51, "page 0 next to the MAP_FIXED page")?;
    verify(
        &m,
        2 * PAGE,
        2 * PAGE,
        0x51,
        "pages 2-3 next to the MAP_FIXED page",
    )?;
    // A file mapping can replace anonymous memory too.
    let f = TempFile::new("/dev/shm", PAGE, 0x52)?;
    let p = sys_ok("mmap(MAP_FIXED file over page 3)", || unsafe {
        mmap_raw(m.addr + 3 * PAGE, PAGE, RW, SHARED | FIXED, f.fd(), 0)
    })? as usize;
    ensure_eq!(
        p,
        m.addr + 3 * PAGE,
        "address returned by mmap(MAP_FIXED, file)"
    );
    for i in (0..PAGE).step_by(101) {
        ensure_eq!(
            m.read(3 * PAGE + i),
            pattern(i, 0x52),
            "file page mapped with MAP_FIXED, byte {i}"
        );
    }
    Ok(())
}

fn map_fixed_noreplace() -> CheckResult {
    let m = Map::anon(4 * PAGE)?;
    fill(&m, 0, 4 * PAGE, 0x61);
    let flags = PRIV | ANON | MAP_FIXED_NOREPLACE;
    expect_sys_errno(
        "mmap(MAP_FIXED_NOREPLACE over the mapping)",
        || unsafe { mmap_raw(m.addr, 4 * PAGE, RW, flags, -1, 0) },
        libc::EEXIST,
    )?;
    expect_sys_errno(
        "mmap(MAP_FIXED_NOREPLACE over one page of it)",
        || unsafe { mmap_raw(m.addr + 2 * PAGE, PAGE, RW, flags, -1, 0) },
        libc::EEXIST,
    )?;
    // Free the last two pages: a request that overlaps page 1 still fails...
    munmap(m.addr + 2 * PAGE, 2 * PAGE)?;
    expect_sys_errno(
        "mmap(MAP_FIXED_NOREPLACE partly over the mapping)",
        || unsafe { mmap_raw(m.addr + PAGE, 2 * PAGE, RW, flags, -1, 0) },
        libc::EEXIST,
    )?;
    verify(
        &m,
        0,
        2 * PAGE,
        0x61,
        "mapping after refused MAP_FIXED_NOREPLACE",
    )?;
    // ...and one in the free range gets exactly that address.
    let n = Map::new(m.addr + 2 * PAGE, 2 * PAGE, RW, flags, -1, 0)?;
    verify_zero(&n, 0, 2 * PAGE, "MAP_FIXED_NOREPLACE mapping")?;
    n.forget();
    Ok(())
}

fn map_stack_noreserve() -> CheckResult {
    let s = Map::new(0, 64 * 1024, RW, PRIV | ANON | MAP_STACK, -1, 0)?;
    verify_zero(&s, 0, 64 * 1024, "MAP_STACK mapping")?;
    fill(&s, 0, 64 * 1024, 0x71);
    verify(&s, 0, 64 * 1024, 0x71, "MAP_STACK mapping")?;
    const BIG: usize = 1 << 30;
    let n = Map::new(0, BIG, RW, PRIV | ANON | MAP_NORESERVE, -1, 0)?;
    for off in [0, BIG / 2, BIG - PAGE] {
        ensure_eq!(n.read(off + 7), 0, "MAP_NORESERVE byte at {off:#x}");
        n.write(off + 7, 0x72);
        ensure_eq!(
            n.read(off + 7),
            0x72,
            "MAP_NORESERVE byte at {off:#x} after a write"
        );
    }
    Ok(())
}

fn map_populate_mincore() -> CheckResult {
    const N: usize = 16;
    let m = Map::new(0, N * PAGE, RW, PRIV | ANON | MAP_POPULATE, -1, 0)?;
    let v = mincore(m.addr, N)?;
    ensure!(
        v.iter().all(|b| b & 1 == 1),
        "mincore right after MAP_POPULATE: {v:?}"
    );
    verify_zero(&m, 0, N * PAGE, "MAP_POPULATE mapping")?;
    // Without MAP_POPULATE nothing is resident until touched.
    let d = Map::anon(N * PAGE)?;
    let v = mincore(d.addr, N)?;
    ensure!(
        v.iter().all(|b| *b == 0),
        "mincore of an untouched anonymous mapping: {v:?}"
    );
    d.write(3 * PAGE, 1);
    d.write(9 * PAGE + 5, 1);
    let v = mincore(d.addr, N)?;
    ensure!(
        v[3] & 1 == 1 && v[9] & 1 == 1,
        "mincore after touching pages 3 and 9: {v:?}"
    );
    // A shared file mapping with MAP_POPULATE is resident too.
    let f = TempFile::new("/dev/shm", 4 * PAGE, 0x73)?;
    let fm = Map::new(0, 4 * PAGE, R, SHARED | MAP_POPULATE, f.fd(), 0)?;
    let v = mincore(fm.addr, 4)?;
    ensure!(
        v.iter().all(|b| b & 1 == 1),
        "mincore of a populated shared file mapping: {v:?}"
    );
    Ok(())
}

fn mincore_errors() -> CheckResult {
    let m = Map::anon(2 * PAGE)?;
    let mut vec = [0u8; 4];
    expect_sys_errno(
        "mincore(unaligned)",
        || unsafe { syscall!(libc::SYS_mincore, m.addr + 8, PAGE, vec.as_mut_ptr()) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "mincore(vec = 0x1)",
        || unsafe { syscall!(libc::SYS_mincore, m.addr, PAGE, 1) },
        libc::EFAULT,
    )?;
    munmap(m.addr + PAGE, PAGE)?;
    expect_sys_errno(
        "mincore(range with a hole)",
        || unsafe { syscall!(libc::SYS_mincore, m.addr, 2 * PAGE, vec.as_mut_ptr()) },
        libc::ENOMEM,
    )?;
    Ok(())
}

fn mmap_einval() -> CheckResult {
    let f = TempFile::new("/tmp", 2 * PAGE, 0x81)?;
    expect_sys_errno(
        "mmap(len 0)",
        || unsafe { mmap_raw(0, 0, RW, PRIV | ANON, -1, 0) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "mmap(file, len 0)",
        || unsafe { mmap_raw(0, 0, R, SHARED, f.fd(), 0) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "mmap(file, offset 100)",
        || unsafe { mmap_raw(0, PAGE, R, PRIV, f.fd(), 100) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "mmap(anon, offset 100)",
        || unsafe { mmap_raw(0, PAGE, RW, PRIV | ANON, -1, 100) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "mmap(MAP_ANONYMOUS without SHARED/PRIVATE)",
        || unsafe { mmap_raw(0, PAGE, RW, ANON, -1, 0) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "mmap(file without SHARED/PRIVATE)",
        || unsafe { mmap_raw(0, PAGE, R, 0, f.fd(), 0) },
        libc::EINVAL,
    )?;
    let m = Map::anon(2 * PAGE)?;
    expect_sys_errno(
        "mmap(MAP_FIXED, unaligned address)",
        || unsafe { mmap_raw(m.addr + 0x10, PAGE, RW, PRIV | ANON | FIXED, -1, 0) },
        libc::EINVAL,
    )?;
    // The refused MAP_FIXED did not touch the mapping.
    m.write(0x10, 9);
    ensure_eq!(m.read(0x10), 9, "mapping after a refused MAP_FIXED");
    Ok(())
}

fn mmap_enomem() -> CheckResult {
    expect_sys_errno(
        "mmap(len = usize::MAX)",
        || unsafe { mmap_raw(0, usize::MAX, RW, PRIV | ANON, -1, 0) },
        libc::ENOMEM,
    )?;
    expect_sys_errno(
        "mmap(len = 1 << 47)",
        || unsafe { mmap_raw(0, 1usize << 47, RW, PRIV | ANON | MAP_NORESERVE, -1, 0) },
        libc::ENOMEM,
    )?;
    Ok(())
}

fn mmap_file_ebadf_eacces() -> CheckResult {
    let f = TempFile::new("/tmp", PAGE, 0x91)?;
    expect_sys_errno(
        "mmap(fd -1, no MAP_ANONYMOUS)",
        || unsafe { mmap_raw(0, PAGE, R, PRIV, -1, 0) },
        libc::EBADF,
    )?;
    expect_sys_errno(
        "mmap(fd 9999)",
        || unsafe { mmap_raw(0, PAGE, R, SHARED, 9999, 0) },
        libc::EBADF,
    )?;
    let wo = f.open(libc::O_WRONLY)?;
    expect_sys_errno(
        "mmap(O_WRONLY fd, MAP_SHARED, PROT_READ)",
        || unsafe { mmap_raw(0, PAGE, R, SHARED, wo.0, 0) },
        libc::EACCES,
    )?;
    expect_sys_errno(
        "mmap(O_WRONLY fd, MAP_SHARED, PROT_READ|PROT_WRITE)",
        || unsafe { mmap_raw(0, PAGE, RW, SHARED, wo.0, 0) },
        libc::EACCES,
    )?;
    expect_sys_errno(
        "mmap(O_WRONLY fd, MAP_PRIVATE, PROT_READ)",
        || unsafe { mmap_raw(0, PAGE, R, PRIV, wo.0, 0) },
        libc::EACCES,
    )?;
    let ro = f.open(libc::O_RDONLY)?;
    expect_sys_errno(
        "mmap(O_RDONLY fd, MAP_SHARED, PROT_READ|PROT_WRITE)",
        || unsafe { mmap_raw(0, PAGE, RW, SHARED, ro.0, 0) },
        libc::EACCES,
    )?;
    // Private copy-on-write of a read-only file is fine.
    let p = Map::new(0, PAGE, RW, PRIV, ro.0, 0)?;
    p.write(0, 0xff);
    ensure_eq!(
        p.read(0),
        0xff,
        "MAP_PRIVATE PROT_WRITE mapping of an O_RDONLY fd"
    );
    ensure_eq!(
        f.pread(0, 1)?[0],
        pattern(0, 0x91),
        "file under a private mapping"
    );
    Ok(())
}

fn mprotect_shared_rdonly_fd_eacces() -> CheckResult {
    // A read-only shared mapping of an O_RDONLY fd can never become writable.
    let f = TempFile::new("/tmp", PAGE, 0x92)?;
    let ro = f.open(libc::O_RDONLY)?;
    let s = Map::new(0, PAGE, R, SHARED, ro.0, 0)?;
    ensure_eq!(
        s.read(1),
        pattern(1, 0x92),
        "MAP_SHARED PROT_READ mapping of an O_RDONLY fd"
    );
    expect_sys_errno(
        "mprotect(PROT_WRITE) of a MAP_SHARED mapping of an O_RDONLY fd",
        || unsafe { syscall!(libc::SYS_mprotect, s.addr, PAGE, RW) },
        libc::EACCES,
    )?;
    // A private mapping of the same fd can.
    let p = Map::new(0, PAGE, R, PRIV, ro.0, 0)?;
    mprotect(p.addr, PAGE, RW)?;
    p.write(0, 1);
    ensure_eq!(
        f.pread(0, 1)?[0],
        pattern(0, 0x92),
        "file under a private mapping made writable"
    );
    Ok(())
}

fn mmap_pipe_enodev() -> CheckResult {
    let mut fds = [0 as c_int; 2];
    sys_ok("pipe2", || unsafe {
        syscall!(libc::SYS_pipe2, fds.as_mut_ptr(), libc::O_CLOEXEC)
    })?;
    let (r, _w) = (Fd(fds[0]), Fd(fds[1]));
    expect_sys_errno(
        "mmap(pipe, MAP_PRIVATE)",
        || unsafe { mmap_raw(0, PAGE, R, PRIV, r.0, 0) },
        libc::ENODEV,
    )?;
    expect_sys_errno(
        "mmap(pipe, MAP_SHARED)",
        || unsafe { mmap_raw(0, PAGE, R, SHARED, r.0, 0) },
        libc::ENODEV,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// munmap, mprotect

fn munmap_partial() -> CheckResult {
    let m = Map::anon(4 * PAGE)?;
    fill(&m, 0, 4 * PAGE, 0xa1);
    munmap(m.addr + PAGE, PAGE)?;
    verify(&m, 0, PAGE, 0xa1, "page 0 after munmap of page 1")?;
    verify(
        &m,
        2 * PAGE,
        2 * PAGE,
        0xa1,
        "pages 2-3 after munmap of page 1",
    )?;
    let hole = m.addr + PAGE;
    expect_fault(hole + 8, None, libc::SIGSEGV, SEGV_MAPERR, hole + 8)?;
    expect_fault(
        hole + PAGE - 1,
        Some(1),
        libc::SIGSEGV,
        SEGV_MAPERR,
        hole + PAGE - 1,
    )?;
    child_dies_of(hole, false, libc::SIGSEGV)?;
    // Unmapping a range that contains the hole is fine; so is unmapping nothing.
    munmap(m.addr + PAGE, 2 * PAGE)?;
    munmap(m.addr + PAGE, 2 * PAGE)?;
    verify(&m, 3 * PAGE, PAGE, 0xa1, "page 3 after munmap of pages 1-2")?;
    expect_fault(
        m.addr + 2 * PAGE,
        None,
        libc::SIGSEGV,
        SEGV_MAPERR,
        m.addr + 2 * PAGE,
    )?;
    Ok(())
}

fn munmap_einval() -> CheckResult {
    let m = Map::anon(2 * PAGE)?;
    expect_sys_errno(
        "munmap(unaligned)",
        || unsafe { syscall!(libc::SYS_munmap, m.addr + 1, PAGE) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "munmap(len 0)",
        || unsafe { syscall!(libc::SYS_munmap, m.addr, 0) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "munmap(kernel address)",
        || unsafe { syscall!(libc::SYS_munmap, 0xffff_8000_0000_0000usize, PAGE) },
        libc::EINVAL,
    )?;
    // Still mapped.
    m.write(PAGE, 3);
    ensure_eq!(m.read(PAGE), 3, "mapping after refused munmaps");
    Ok(())
}

fn mprotect_read_only_write_faults() -> CheckResult {
    let m = Map::anon(2 * PAGE)?;
    fill(&m, 0, 2 * PAGE, 0xb1);
    mprotect(m.addr, PAGE, R)?;
    let a = m.addr + 123;
    expect_fault(a, Some(0x77), libc::SIGSEGV, SEGV_ACCERR, a)?;
    ensure_eq!(
        expect_ok(a, None)?,
        pattern(123, 0xb1),
        "read of the read-only page"
    );
    child_dies_of(a, true, libc::SIGSEGV)?;
    // The other page is still writable.
    expect_ok(m.addr + PAGE + 5, Some(0x33))?;
    // Restoring PROT_WRITE works and keeps the data.
    mprotect(m.addr, PAGE, RW)?;
    verify(
        &m,
        0,
        PAGE,
        0xb1,
        "page after PROT_READ -> PROT_READ|PROT_WRITE",
    )?;
    expect_ok(a, Some(0x77))?;
    ensure_eq!(m.read(123), 0x77, "byte written after restoring PROT_WRITE");
    Ok(())
}

fn mprotect_none_read_faults() -> CheckResult {
    let m = Map::anon(3 * PAGE)?;
    fill(&m, 0, 3 * PAGE, 0xb2);
    mprotect(m.addr + PAGE, PAGE, libc::PROT_NONE)?;
    let a = m.addr + PAGE + 2049;
    expect_fault(a, None, libc::SIGSEGV, SEGV_ACCERR, a)?;
    expect_fault(a, Some(1), libc::SIGSEGV, SEGV_ACCERR, a)?;
    child_dies_of(a, false, libc::SIGSEGV)?;
    verify(&m, 0, PAGE, 0xb2, "page 0 next to a PROT_NONE page")?;
    verify(&m, 2 * PAGE, PAGE, 0xb2, "page 2 next to a PROT_NONE page")?;
    mprotect(m.addr + PAGE, PAGE, RW)?;
    verify(
        &m,
        PAGE,
        PAGE,
        0xb2,
        "page after PROT_NONE -> PROT_READ|PROT_WRITE",
    )?;
    Ok(())
}

fn mprotect_none_untouched_page() -> CheckResult {
    // PROT_NONE on a never-touched page, then PROT_READ: zero, not writable.
    let n = Map::anon(PAGE)?;
    mprotect(n.addr, PAGE, libc::PROT_NONE)?;
    expect_fault(n.addr, None, libc::SIGSEGV, SEGV_ACCERR, n.addr)?;
    expect_fault(n.addr + 1, Some(1), libc::SIGSEGV, SEGV_ACCERR, n.addr + 1)?;
    mprotect(n.addr, PAGE, R)?;
    ensure_eq!(
        expect_ok(n.addr + 9, None)?,
        0,
        "untouched page made readable"
    );
    expect_fault(n.addr + 9, Some(1), libc::SIGSEGV, SEGV_ACCERR, n.addr + 9)?;
    // A PROT_NONE mapping from the start behaves the same.
    let g = Map::new(0, PAGE, libc::PROT_NONE, PRIV | ANON, -1, 0)?;
    expect_fault(g.addr + 100, None, libc::SIGSEGV, SEGV_ACCERR, g.addr + 100)?;
    Ok(())
}

fn mprotect_errors() -> CheckResult {
    let m = Map::anon(3 * PAGE)?;
    expect_sys_errno(
        "mprotect(unaligned)",
        || unsafe { syscall!(libc::SYS_mprotect, m.addr + 1, PAGE, R) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "mprotect(prot 0x10)",
        || unsafe { syscall!(libc::SYS_mprotect, m.addr, PAGE, 0x10) },
        libc::EINVAL,
    )?;
    munmap(m.addr + PAGE, PAGE)?;
    expect_sys_errno(
        "mprotect(unmapped page)",
        || unsafe { syscall!(libc::SYS_mprotect, m.addr + PAGE, PAGE, R) },
        libc::ENOMEM,
    )?;
    expect_sys_errno(
        "mprotect(range with a hole)",
        || unsafe { syscall!(libc::SYS_mprotect, m.addr, 3 * PAGE, R) },
        libc::ENOMEM,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// mremap

unsafe fn mremap_raw(
    old: usize,
    old_len: usize,
    new_len: usize,
    flags: c_int,
    new: usize,
) -> c_long {
    syscall!(libc::SYS_mremap, old, old_len, new_len, flags, new)
}

fn mremap_grow_in_place() -> CheckResult {
    let mut m = Map::anon(4 * PAGE)?;
    fill(&m, 0, 2 * PAGE, 0xc1);
    munmap(m.addr + 2 * PAGE, 2 * PAGE)?;
    m.len = 2 * PAGE;
    let p = sys_ok("mremap(grow 2 -> 4 pages, no flags)", || unsafe {
        mremap_raw(m.addr, 2 * PAGE, 4 * PAGE, 0, 0)
    })? as usize;
    ensure_eq!(p, m.addr, "mremap grown in place");
    m.len = 4 * PAGE;
    verify(&m, 0, 2 * PAGE, 0xc1, "old part after growing in place")?;
    verify_zero(&m, 2 * PAGE, 2 * PAGE, "new part after growing in place")?;
    fill(&m, 2 * PAGE, 2 * PAGE, 0xc2);
    verify(&m, 2 * PAGE, 2 * PAGE, 0xc2, "new part after a write")?;
    Ok(())
}

fn mremap_grow_maymove() -> CheckResult {
    let mut m = Map::anon(3 * PAGE)?;
    fill(&m, 0, 3 * PAGE, 0xc3);
    // Page 2 becomes a separate mapping that blocks growing pages 0-1 in place.
    mprotect(m.addr + 2 * PAGE, PAGE, R)?;
    let blocker = Map {
        addr: m.addr + 2 * PAGE,
        len: PAGE,
    };
    m.len = 2 * PAGE;
    expect_sys_errno(
        "mremap(grow blocked, no MREMAP_MAYMOVE)",
        || unsafe { mremap_raw(m.addr, 2 * PAGE, 4 * PAGE, 0, 0) },
        libc::ENOMEM,
    )?;
    verify(&m, 0, 2 * PAGE, 0xc3, "mapping after the refused mremap")?;
    let old = m.addr;
    let q = sys_ok("mremap(grow blocked, MREMAP_MAYMOVE)", || unsafe {
        mremap_raw(old, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE, 0)
    })? as usize;
    m.forget();
    let n = Map {
        addr: q,
        len: 4 * PAGE,
    };
    ensure!(
        q != old && q % PAGE == 0,
        "mremap(MREMAP_MAYMOVE) returned {q:#x} (old {old:#x})"
    );
    verify(&n, 0, 2 * PAGE, 0xc3, "moved mapping")?;
    verify_zero(&n, 2 * PAGE, 2 * PAGE, "grown part of the moved mapping")?;
    fill(&n, 2 * PAGE, 2 * PAGE, 0xc4);
    verify(&n, 2 * PAGE, 2 * PAGE, 0xc4, "grown part after a write")?;
    // The old range is gone; the blocker is intact.
    expect_fault(old + 16, None, libc::SIGSEGV, SEGV_MAPERR, old + 16)?;
    expect_fault(old + PAGE, None, libc::SIGSEGV, SEGV_MAPERR, old + PAGE)?;
    verify_shifted(&blocker, 2 * PAGE, 0xc3)?;
    Ok(())
}

/// Verifies a page whose pattern was written at offset `base` of a larger mapping.
fn verify_shifted(m: &Map, base: usize, seed: u8) -> CheckResult {
    for i in (0..PAGE).step_by(61) {
        let got = m.read(i);
        let want = pattern(base + i, seed);
        ensure!(
            got == want,
            "blocker page byte {i}: {got:#x}, expected {want:#x}"
        );
    }
    Ok(())
}

fn mremap_shrink() -> CheckResult {
    let mut m = Map::anon(4 * PAGE)?;
    fill(&m, 0, 4 * PAGE, 0xc5);
    let p = sys_ok("mremap(shrink 4 -> 1 pages)", || unsafe {
        mremap_raw(m.addr, 4 * PAGE, PAGE, 0, 0)
    })? as usize;
    ensure_eq!(p, m.addr, "mremap shrink result");
    m.len = PAGE;
    verify(&m, 0, PAGE, 0xc5, "page kept by the shrink")?;
    expect_fault(
        m.addr + PAGE,
        None,
        libc::SIGSEGV,
        SEGV_MAPERR,
        m.addr + PAGE,
    )?;
    expect_fault(
        m.addr + 4 * PAGE - 1,
        None,
        libc::SIGSEGV,
        SEGV_MAPERR,
        m.addr + 4 * PAGE - 1,
    )?;
    Ok(())
}

fn mremap_fixed() -> CheckResult {
    let src = Map::anon(2 * PAGE)?;
    fill(&src, 0, 2 * PAGE, 0xc6);
    let dst = Map::anon(3 * PAGE)?;
    for i in (0..3 * PAGE).step_by(64) {
        dst.write(i, 0xee);
    }
    let q = sys_ok("mremap(MREMAP_MAYMOVE|MREMAP_FIXED)", || unsafe {
        mremap_raw(
            src.addr,
            2 * PAGE,
            2 * PAGE,
            MREMAP_MAYMOVE | MREMAP_FIXED,
            dst.addr,
        )
    })? as usize;
    ensure_eq!(q, dst.addr, "mremap(MREMAP_FIXED) result");
    verify(&dst, 0, 2 * PAGE, 0xc6, "mapping moved with MREMAP_FIXED")?;
    ensure_eq!(
        dst.read(2 * PAGE),
        0xee,
        "page after the MREMAP_FIXED target"
    );
    let old = src.addr;
    src.forget();
    expect_fault(old, None, libc::SIGSEGV, SEGV_MAPERR, old)?;
    Ok(())
}

fn mremap_errors() -> CheckResult {
    let m = Map::anon(4 * PAGE)?;
    munmap(m.addr + 2 * PAGE, 2 * PAGE)?;
    let a = m.addr;
    let t = Map::anon(4 * PAGE)?;
    let cases: [(&str, usize, usize, usize, c_int, usize, i32); 9] = [
        (
            "unaligned old address",
            a + 1,
            PAGE,
            2 * PAGE,
            MREMAP_MAYMOVE,
            0,
            libc::EINVAL,
        ),
        ("new_len 0", a, PAGE, 0, MREMAP_MAYMOVE, 0, libc::EINVAL),
        (
            "unknown flag 0x80",
            a,
            PAGE,
            2 * PAGE,
            0x80,
            0,
            libc::EINVAL,
        ),
        (
            "MREMAP_FIXED without MREMAP_MAYMOVE",
            a,
            PAGE,
            PAGE,
            MREMAP_FIXED,
            t.addr,
            libc::EINVAL,
        ),
        (
            "MREMAP_FIXED to an unaligned address",
            a,
            PAGE,
            PAGE,
            MREMAP_MAYMOVE | MREMAP_FIXED,
            t.addr + 8,
            libc::EINVAL,
        ),
        (
            "MREMAP_FIXED overlapping the old range",
            a,
            2 * PAGE,
            2 * PAGE,
            MREMAP_MAYMOVE | MREMAP_FIXED,
            a + PAGE,
            libc::EINVAL,
        ),
        (
            "unmapped old address",
            a + 2 * PAGE,
            PAGE,
            2 * PAGE,
            MREMAP_MAYMOVE,
            0,
            libc::EFAULT,
        ),
        (
            "old range past the mapping",
            a,
            3 * PAGE,
            4 * PAGE,
            MREMAP_MAYMOVE,
            0,
            libc::EFAULT,
        ),
        (
            "grow into another mapping without MREMAP_MAYMOVE",
            t.addr,
            PAGE,
            2 * PAGE,
            0,
            0,
            libc::ENOMEM,
        ),
    ];
    for (what, old, old_len, new_len, flags, new, errno) in cases {
        expect_sys_errno(
            &format!("mremap({what})"),
            || unsafe { mremap_raw(old, old_len, new_len, flags, new) },
            errno,
        )?;
    }
    m.write(0, 1);
    t.write(0, 1);
    munmap(a, 2 * PAGE)?;
    m.forget();
    Ok(())
}

// ---------------------------------------------------------------------------
// madvise, brk, msync, mlock

fn madvise(addr: usize, len: usize, advice: c_int) -> CheckResult {
    let r = sys_ok(
        &format!("madvise({addr:#x}, {len:#x}, {advice})"),
        || unsafe { syscall!(libc::SYS_madvise, addr, len, advice) },
    )?;
    ensure_eq!(r, 0, "madvise({advice})");
    Ok(())
}

fn madvise_dontneed() -> CheckResult {
    let p = Map::anon(4 * PAGE)?;
    fill(&p, 0, 4 * PAGE, 0xd1);
    madvise(p.addr + PAGE, 2 * PAGE, MADV_DONTNEED)?;
    verify(&p, 0, PAGE, 0xd1, "private page 0 (not advised)")?;
    verify_zero(
        &p,
        PAGE,
        2 * PAGE,
        "private anonymous pages after MADV_DONTNEED",
    )?;
    verify(&p, 3 * PAGE, PAGE, 0xd1, "private page 3 (not advised)")?;
    // Shared memory keeps its contents.
    let s = Map::new(0, 2 * PAGE, RW, SHARED | ANON, -1, 0)?;
    fill(&s, 0, 2 * PAGE, 0xd2);
    madvise(s.addr, 2 * PAGE, MADV_DONTNEED)?;
    verify(
        &s,
        0,
        2 * PAGE,
        0xd2,
        "shared anonymous mapping after MADV_DONTNEED",
    )?;
    let f = TempFile::new("/dev/shm", 2 * PAGE, 0xd3)?;
    let fs = Map::new(0, 2 * PAGE, RW, SHARED, f.fd(), 0)?;
    fs.write(100, 0x42);
    madvise(fs.addr, 2 * PAGE, MADV_DONTNEED)?;
    ensure_eq!(
        fs.read(100),
        0x42,
        "shared file mapping after MADV_DONTNEED"
    );
    // A private file mapping drops its private copies: the file content is back.
    let fp = Map::new(0, 2 * PAGE, RW, PRIV, f.fd(), 0)?;
    fp.write(PAGE + 7, 0x99);
    madvise(fp.addr, 2 * PAGE, MADV_DONTNEED)?;
    ensure_eq!(
        fp.read(PAGE + 7),
        pattern(PAGE + 7, 0xd3),
        "private file mapping after MADV_DONTNEED"
    );
    ensure_eq!(
        fp.read(100),
        0x42,
        "private file mapping sees the shared write"
    );
    Ok(())
}

fn madvise_errors() -> CheckResult {
    let m = Map::anon(2 * PAGE)?;
    expect_sys_errno(
        "madvise(unaligned)",
        || unsafe { syscall!(libc::SYS_madvise, m.addr + 1, PAGE, MADV_DONTNEED) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "madvise(advice 12345)",
        || unsafe { syscall!(libc::SYS_madvise, m.addr, PAGE, 12345) },
        libc::EINVAL,
    )?;
    munmap(m.addr + PAGE, PAGE)?;
    expect_sys_errno(
        "madvise(range with a hole)",
        || unsafe { syscall!(libc::SYS_madvise, m.addr, 2 * PAGE, MADV_DONTNEED) },
        libc::ENOMEM,
    )?;
    Ok(())
}

fn brk(addr: usize) -> usize {
    unsafe { syscall!(libc::SYS_brk, addr) as usize }
}

fn brk_grow_shrink_zeroed() -> CheckResult {
    const LEN: usize = 128 * 1024;
    let cur = brk(0);
    ensure!(cur != 0 && cur as isize != -1, "brk(0) = {cur:#x}");
    let start = (cur + PAGE - 1) & !(PAGE - 1);
    let result = (|| {
        ensure_eq!(brk(start + LEN), start + LEN, "brk(grow by 128 KiB)");
        ensure_eq!(brk(0), start + LEN, "brk(0) after growing");
        let m = Map {
            addr: start,
            len: 0,
        };
        verify_zero(&m, 0, LEN, "new brk area")?;
        fill(&m, 0, LEN, 0xe1);
        verify(&m, 0, LEN, 0xe1, "brk area")?;
        // Shrink (a page below the top stays), then grow again: zeroed again.
        ensure_eq!(brk(start + PAGE), start + PAGE, "brk(shrink)");
        expect_fault(start + PAGE, None, libc::SIGSEGV, SEGV_MAPERR, start + PAGE)?;
        verify(&m, 0, PAGE, 0xe1, "brk page below the new break")?;
        ensure_eq!(brk(start + LEN), start + LEN, "brk(grow again)");
        verify_zero(&m, PAGE, LEN - PAGE, "brk area grown again after a shrink")?;
        // An unaligned break is returned as asked.
        ensure_eq!(brk(start + LEN + 100), start + LEN + 100, "brk(unaligned)");
        ensure_eq!(m.read(LEN + 99), 0, "byte below an unaligned break");
        // Impossible requests leave the break where it is.
        ensure_eq!(brk(1), start + LEN + 100, "brk(1)");
        ensure_eq!(brk(1usize << 47), start + LEN + 100, "brk(1 << 47)");
        Ok(())
    })();
    let back = brk(cur);
    result?;
    ensure_eq!(back, cur, "brk(restore)");
    Ok(())
}

fn memlock_limit() -> Result<u64, String> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    sys_ok("getrlimit(RLIMIT_MEMLOCK)", || unsafe {
        syscall!(libc::SYS_getrlimit, libc::RLIMIT_MEMLOCK, &raw mut rl)
    })?;
    Ok(rl.rlim_cur)
}

fn privileged() -> bool {
    // Root (CAP_IPC_LOCK) may lock any amount.
    unsafe { libc::geteuid() == 0 }
}

fn mlock_munlock() -> CheckResult {
    let limit = memlock_limit()?;
    let m = Map::anon(4 * PAGE)?;
    let can = privileged() || limit >= 4 * PAGE as u64;
    if can {
        let r = sys_ok("mlock(4 pages)", || unsafe {
            syscall!(libc::SYS_mlock, m.addr, 4 * PAGE)
        })?;
        ensure_eq!(r, 0, "mlock");
        let v = mincore(m.addr, 4)?;
        ensure!(v.iter().all(|b| b & 1 == 1), "mincore after mlock: {v:?}");
        verify_zero(&m, 0, 4 * PAGE, "locked pages")?;
        ensure_eq!(
            unsafe { syscall!(libc::SYS_munlock, m.addr, 4 * PAGE) },
            0,
            "munlock"
        );
        // Unaligned: rounded to whole pages.
        ensure_eq!(
            unsafe { syscall!(libc::SYS_mlock, m.addr + 100, 10) },
            0,
            "mlock(unaligned)"
        );
        ensure_eq!(
            unsafe { syscall!(libc::SYS_munlock, m.addr + 100, 10) },
            0,
            "munlock(unaligned)"
        );
    } else {
        let want = if limit == 0 {
            libc::EPERM
        } else {
            libc::ENOMEM
        };
        expect_sys_errno(
            "mlock(4 pages) over RLIMIT_MEMLOCK",
            || unsafe { syscall!(libc::SYS_mlock, m.addr, 4 * PAGE) },
            want,
        )?;
    }
    munmap(m.addr + PAGE, PAGE)?;
    expect_sys_errno(
        "mlock(range with a hole)",
        || unsafe { syscall!(libc::SYS_mlock, m.addr, 2 * PAGE) },
        if limit == 0 && !privileged() {
            libc::EPERM
        } else {
            libc::ENOMEM
        },
    )?;
    Ok(())
}

fn mlockall_munlockall() -> CheckResult {
    let limit = memlock_limit()?;
    expect_sys_errno(
        "mlockall(0)",
        || unsafe { syscall!(libc::SYS_mlockall, 0) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "mlockall(MCL_ONFAULT)",
        || unsafe { syscall!(libc::SYS_mlockall, MCL_ONFAULT) },
        libc::EINVAL,
    )?;
    expect_sys_errno(
        "mlockall(0x100)",
        || unsafe { syscall!(libc::SYS_mlockall, 0x100 | MCL_CURRENT) },
        libc::EINVAL,
    )?;
    if !privileged() {
        // Linux: EPERM with RLIMIT_MEMLOCK 0; MCL_CURRENT needs the whole address
        // space under the limit (else ENOMEM); MCL_FUTURE alone always succeeds.
        if limit == 0 {
            expect_sys_errno(
                "mlockall(MCL_FUTURE)",
                || unsafe { syscall!(libc::SYS_mlockall, MCL_FUTURE) },
                libc::EPERM,
            )?;
        } else {
            ensure_eq!(
                unsafe { syscall!(libc::SYS_mlockall, MCL_FUTURE) },
                0,
                "mlockall(MCL_FUTURE)"
            );
        }
        ensure_eq!(unsafe { syscall!(libc::SYS_munlockall) }, 0, "munlockall");
        return Ok(());
    }
    let r = sys_ok("mlockall(MCL_CURRENT)", || unsafe {
        syscall!(libc::SYS_mlockall, MCL_CURRENT)
    });
    let r2 = unsafe { syscall!(libc::SYS_munlockall) };
    ensure_eq!(r?, 0, "mlockall(MCL_CURRENT)");
    ensure_eq!(r2, 0, "munlockall");
    // MCL_FUTURE: later mappings are locked (populated) at once.
    let r = sys_ok("mlockall(MCL_FUTURE)", || unsafe {
        syscall!(libc::SYS_mlockall, MCL_FUTURE)
    });
    let m = r.and_then(|_| Map::anon(8 * PAGE));
    let v = m
        .as_ref()
        .map_err(|e| e.clone())
        .and_then(|m| mincore(m.addr, 8));
    let r2 = unsafe { syscall!(libc::SYS_munlockall) };
    let v = v?;
    ensure!(
        v.iter().all(|b| b & 1 == 1),
        "mincore of a mapping made under mlockall(MCL_FUTURE): {v:?}"
    );
    ensure_eq!(r2, 0, "munlockall");
    Ok(())
}

// ---------------------------------------------------------------------------
// Demand paging, fork, shared memory, SIGBUS/SIGSEGV

fn demand_paging_256mib() -> CheckResult {
    const LEN: usize = 256 << 20;
    const STEP: usize = 64 * PAGE;
    let m = Map::anon(LEN)?;
    // No transparent huge pages, so residency is per 4 KiB page on Linux too.
    madvise(m.addr, LEN, MADV_NOHUGEPAGE)?;
    for off in (0..LEN).step_by(STEP) {
        unsafe { write_volatile(m.at(off) as *mut u64, off as u64 ^ 0xdead_beef) };
    }
    for off in (0..LEN).step_by(STEP) {
        let got = unsafe { read_volatile(m.at(off) as *const u64) };
        ensure!(
            got == off as u64 ^ 0xdead_beef,
            "word at {off:#x}: {got:#x}"
        );
    }
    let v = mincore(m.addr, 128)?;
    ensure!(
        v[0] & 1 == 1 && v[64] & 1 == 1,
        "touched pages 0 and 64 not resident: {:?}",
        (v[0], v[64])
    );
    ensure!(
        v[1] == 0 && v[32] == 0 && v[127] == 0,
        "untouched pages 1, 32, 127 resident: {:?}",
        (v[1], v[32], v[127])
    );
    let a = m.addr;
    m.forget();
    munmap(a, LEN)
}

fn cow_after_fork_private() -> CheckResult {
    let m = Map::anon(2 * PAGE)?;
    fill(&m, 0, 2 * PAGE, 0xf1);
    let f = TempFile::new("/tmp", PAGE, 0xf2)?;
    let fm = Map::new(0, PAGE, RW, PRIV, f.fd(), 0)?;
    fm.write(5, 0x55);
    let mut fds = [0 as c_int; 2];
    sys_ok("pipe2", || unsafe {
        syscall!(libc::SYS_pipe2, fds.as_mut_ptr(), libc::O_CLOEXEC)
    })?;
    let (rd, wr) = (Fd(fds[0]), Fd(fds[1]));
    let (a, fa, r) = (m.addr, fm.addr, rd.0);
    let pid = unsafe { libc::fork() };
    ensure!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = (|| unsafe {
            let p = a as *mut u8;
            if read_volatile(p.add(61)) != pattern(61, 0xf1)
                || read_volatile((fa + 5) as *const u8) != 0x55
            {
                return 1;
            }
            // Our own writes.
            write_volatile(p.add(61), 0x01);
            write_volatile((fa + 5) as *mut u8, 0x66);
            if read_volatile(p.add(61)) != 0x01 || read_volatile((fa + 5) as *const u8) != 0x66 {
                return 2;
            }
            // Wait until the parent wrote its own values, then still see ours.
            let mut b = 0u8;
            if syscall!(libc::SYS_read, r, &raw mut b, 1) != 1 {
                return 3;
            }
            if read_volatile(p.add(61)) != 0x01
                || read_volatile(p.add(PAGE + 61)) != pattern(PAGE + 61, 0xf1)
            {
                return 4;
            }
            if read_volatile((fa + 5) as *const u8) != 0x66 {
                return 5;
            }
            0
        })();
        unsafe { libc::_exit(code) };
    }
    // Parent: write after the fork, then let the child check.
    m.write(PAGE + 61, 0x02);
    m.write(122, 0x03);
    fm.write(5, 0x77);
    let b = 1u8;
    let w = unsafe { syscall!(libc::SYS_write, wr.0, &raw const b, 1) };
    let st = wait_child(pid)?;
    ensure_eq!(w, 1, "write(pipe)");
    ensure_exit0(st, "copy-on-write child (1: pre-fork data, 2: own write, 4: parent's anon write leaked, 5: parent's file write leaked)")?;
    ensure_eq!(
        m.read(61),
        pattern(61, 0xf1),
        "parent's byte after the child's write"
    );
    ensure_eq!(m.read(PAGE + 61), 0x02, "parent's own write");
    ensure_eq!(fm.read(5), 0x77, "parent's private file page");
    ensure_eq!(
        f.pread(5, 1)?[0],
        pattern(5, 0xf2),
        "file under private mappings"
    );
    Ok(())
}

fn shm_file(len: usize) -> Result<TempFile, String> {
    let f = TempFile::new("/dev/shm", 0, 0)?;
    f.truncate(len)?;
    Ok(f)
}

fn shared_file_two_addresses() -> CheckResult {
    let f = shm_file(2 * PAGE)?;
    let a = Map::new(0, 2 * PAGE, RW, SHARED, f.fd(), 0)?;
    let b = Map::new(0, 2 * PAGE, RW, SHARED, f.fd(), 0)?;
    ensure!(
        a.addr != b.addr,
        "two mappings at one address {:#x}",
        a.addr
    );
    verify_zero(&a, 0, 2 * PAGE, "fresh /dev/shm file")?;
    for i in (0..2 * PAGE).step_by(331) {
        a.write(i, i as u8 ^ 0x3c);
        ensure_eq!(
            b.read(i),
            i as u8 ^ 0x3c,
            "second mapping after a write to the first, byte {i}"
        );
        b.write(i, i as u8 ^ 0xc3);
        ensure_eq!(
            a.read(i),
            i as u8 ^ 0xc3,
            "first mapping after a write to the second, byte {i}"
        );
    }
    // A mapping at an offset aliases the second page.
    let c = Map::new(0, PAGE, RW, SHARED, f.fd(), PAGE as i64)?;
    c.write(8, 0x11);
    ensure_eq!(a.read(PAGE + 8), 0x11, "offset mapping aliasing page 1");
    Ok(())
}

fn shared_file_across_fork() -> CheckResult {
    const ROUNDS: u32 = 200;
    let f = shm_file(PAGE)?;
    let a = Map::new(0, PAGE, RW, SHARED, f.fd(), 0)?;
    let (fd, pa) = (f.fd(), a.addr);
    let pid = unsafe { libc::fork() };
    ensure!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = (|| unsafe {
            // The child maps the file again: a different address from the parent's.
            let q = mmap_raw(0, PAGE, RW, SHARED, fd, 0);
            if q == -1 || q as usize == pa {
                return 10;
            }
            let q = q as usize;
            syscall!(libc::SYS_munmap, pa, PAGE);
            let turn = &*(q as *const AtomicU32);
            let addr_slot = &*((q + 8) as *const AtomicUsize);
            addr_slot.store(q, SeqCst);
            let deadline = Instant::now() + Duration::from_secs(30);
            for r in 0..ROUNDS {
                while turn.load(SeqCst) != 2 * r + 1 {
                    if Instant::now() > deadline {
                        return 11;
                    }
                    syscall!(libc::SYS_sched_yield);
                }
                turn.store(2 * r + 2, SeqCst);
            }
            0
        })();
        unsafe { libc::_exit(code) };
    }
    let turn = unsafe { &*(a.addr as *const AtomicU32) };
    let child_addr = unsafe { &*((a.addr + 8) as *const AtomicUsize) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut stuck = None;
    'outer: for r in 0..ROUNDS {
        turn.store(2 * r + 1, SeqCst);
        while turn.load(SeqCst) != 2 * r + 2 {
            if Instant::now() > deadline {
                stuck = Some(r);
                break 'outer;
            }
            unsafe { syscall!(libc::SYS_sched_yield) };
        }
    }
    let st = wait_child(pid)?;
    ensure!(
        stuck.is_none(),
        "ping-pong through the shared page stuck in round {:?}, child {}",
        stuck,
        describe(st)
    );
    ensure_exit0(st, "ping-pong child (10: mmap, 11: no progress)")?;
    let ca = child_addr.load(SeqCst);
    ensure!(
        ca != 0 && ca != a.addr,
        "child's mapping address {ca:#x}, parent's {:#x}",
        a.addr
    );
    ensure_eq!(
        turn.load(SeqCst),
        2 * ROUNDS,
        "final value in the shared page"
    );
    Ok(())
}

fn sigbus_beyond_eof() -> CheckResult {
    let f = TempFile::new("/dev/shm", PAGE + 100, 0x07)?;
    for flags in [SHARED, PRIV] {
        let m = Map::new(0, 3 * PAGE, RW, flags, f.fd(), 0)?;
        ensure_eq!(
            m.read(PAGE + 99),
            pattern(PAGE + 99, 0x07),
            "last byte of the file (flags {flags})"
        );
        // The rest of the last partial page reads as zero.
        ensure_eq!(
            expect_ok(m.addr + PAGE + 200, None)?,
            0,
            "byte past EOF in the last page (flags {flags})"
        );
        // Whole pages past EOF: SIGBUS, BUS_ADRERR, si_addr = the address.
        let a = m.addr + 2 * PAGE + 16;
        expect_fault(a, None, libc::SIGBUS, BUS_ADRERR, a)?;
        expect_fault(a + 1, Some(1), libc::SIGBUS, BUS_ADRERR, a + 1)?;
        child_dies_of(a, false, libc::SIGBUS)?;
    }
    // Extending the file makes the page accessible.
    let m = Map::new(0, 3 * PAGE, RW, SHARED, f.fd(), 0)?;
    f.truncate(3 * PAGE)?;
    ensure_eq!(
        expect_ok(m.addr + 2 * PAGE + 16, None)?,
        0,
        "page after extending the file"
    );
    expect_ok(m.addr + 2 * PAGE + 16, Some(0x4d))?;
    ensure_eq!(
        f.pread(2 * PAGE + 16, 1)?[0],
        0x4d,
        "file byte written through the mapping"
    );
    // Shrinking it again makes it fault again.
    f.truncate(PAGE)?;
    expect_fault(
        m.addr + PAGE + 1,
        None,
        libc::SIGBUS,
        BUS_ADRERR,
        m.addr + PAGE + 1,
    )?;
    Ok(())
}

fn sigsegv_unmapped_addr() -> CheckResult {
    let m = Map::anon(PAGE)?;
    let a = m.addr;
    drop(m);
    expect_fault(a + 40, None, libc::SIGSEGV, SEGV_MAPERR, a + 40)?;
    expect_fault(a + 41, Some(7), libc::SIGSEGV, SEGV_MAPERR, a + 41)?;
    expect_fault(0x10, None, libc::SIGSEGV, SEGV_MAPERR, 0x10)?;
    child_dies_of(a + 40, true, libc::SIGSEGV)?;
    Ok(())
}

fn sigsegv_kernel_address() -> CheckResult {
    // The kernel half: SEGV_MAPERR with the address (Linux never reports ACCERR
    // for a kernel address, whatever the page tables hold).
    let k = 0xffff_8000_0000_1008usize;
    expect_fault(k, None, libc::SIGSEGV, SEGV_MAPERR, k)?;
    expect_fault(k + 1, Some(1), libc::SIGSEGV, SEGV_MAPERR, k + 1)?;
    Ok(())
}

fn sigsegv_noncanonical() -> CheckResult {
    // A non-canonical address is a #GP, not a page fault: SI_KERNEL and si_addr 0.
    expect_fault(0x0000_8000_0000_0000, None, libc::SIGSEGV, SI_KERNEL, 0)?;
    expect_fault(0x1234_5678_9abc_0000, Some(1), libc::SIGSEGV, SI_KERNEL, 0)?;
    Ok(())
}
