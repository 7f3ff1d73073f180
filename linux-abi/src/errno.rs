//! Linux error numbers (`include/uapi/asm-generic/errno-base.h`, `errno.h`) and the
//! kernel-internal restart codes, which never reach user space.

/// An error number. Syscalls return `-errno`.
#[allow(clippy::upper_case_acronyms, non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Errno {
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    E2BIG = 7,
    ENOEXEC = 8,
    EBADF = 9,
    ECHILD = 10,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    EXDEV = 18,
    ENODEV = 19,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    ENFILE = 23,
    EMFILE = 24,
    ENOTTY = 25,
    ETXTBSY = 26,
    EFBIG = 27,
    ENOSPC = 28,
    ESPIPE = 29,
    EROFS = 30,
    EMLINK = 31,
    EPIPE = 32,
    EDOM = 33,
    ERANGE = 34,
    EDEADLK = 35,
    ENAMETOOLONG = 36,
    ENOLCK = 37,
    ENOSYS = 38,
    ENOTEMPTY = 39,
    ELOOP = 40,
    ENOMSG = 42,
    EIDRM = 43,
    ENODATA = 61,
    ETIME = 62,
    EOVERFLOW = 75,
    EBADFD = 77,
    ELIBBAD = 80,
    EILSEQ = 84,
    ENOTSOCK = 88,
    EDESTADDRREQ = 89,
    EMSGSIZE = 90,
    EPROTOTYPE = 91,
    ENOPROTOOPT = 92,
    EPROTONOSUPPORT = 93,
    ESOCKTNOSUPPORT = 94,
    EOPNOTSUPP = 95,
    EAFNOSUPPORT = 97,
    EADDRINUSE = 98,
    EADDRNOTAVAIL = 99,
    ENETDOWN = 100,
    ENETUNREACH = 101,
    ECONNABORTED = 103,
    ECONNRESET = 104,
    ENOBUFS = 105,
    EISCONN = 106,
    ENOTCONN = 107,
    ESHUTDOWN = 108,
    ETIMEDOUT = 110,
    ECONNREFUSED = 111,
    EHOSTUNREACH = 113,
    EALREADY = 114,
    EINPROGRESS = 115,
    ECANCELED = 125,
    EOWNERDEAD = 130,
    ENOTRECOVERABLE = 131,
    /// Restart the call if the handler has SA_RESTART, else EINTR.
    ERESTARTSYS = 512,
    /// Always restart (no handler involved).
    ERESTARTNOINTR = 513,
    /// Restart unless a handler ran (then EINTR).
    ERESTARTNOHAND = 514,
    /// Restart through `restart_syscall` unless a handler ran (then EINTR).
    ERESTART_RESTARTBLOCK = 516,
}

/// A syscall's result: a non-negative value or an error.
pub type SysResult = Result<usize, Errno>;

impl Errno {
    /// The restart code for calls that continue through `restart_syscall`
    /// (`ERESTART_RESTARTBLOCK`, 516): restarted if no handler ran, else EINTR.
    pub fn from_restart_block() -> Self {
        Errno::ERESTART_RESTARTBLOCK
    }

    /// The value returned in rax: `-errno`.
    pub fn as_ret(self) -> u64 {
        (-(self as i64)) as u64
    }
}

#[cfg(target_os = "none")]
impl From<rtos::arch::x86_64::usercopy::Fault> for Errno {
    fn from(_: rtos::arch::x86_64::usercopy::Fault) -> Self {
        Errno::EFAULT
    }
}
