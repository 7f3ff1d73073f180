//! Starting the Linux personality: the filesystem from the initramfs, the user-mode hooks,
//! the console terminal, and the first process (pid 1). When pid 1 ends, the machine
//! reports its status on the status channel and stops.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use rtos::arch::x86_64::trap::{TrapFrame, UserFault};
use rtos::sched::thread::Thread;
use rtos::sync::SpinLock;

use crate::errno::Errno;
use crate::fs::fdtable::FdTable;
use crate::process::{ExitStatus, FsContext, Process, Task};
use crate::signal::{SigHandlers, SigSet};

struct Hooks;

impl rtos::user::UserHooks for Hooks {
    fn syscall(&self, frame: &mut TrapFrame) {
        crate::syscall::dispatch(frame);
    }

    fn fault(&self, frame: &mut TrapFrame, fault: UserFault) {
        crate::signal::deliver::user_fault(frame, fault);
    }

    fn return_to_user(&self, frame: &mut TrapFrame) {
        if rtos::sched::core::current().take_dl_overrun() {
            // SCHED_FLAG_DL_OVERRUN: the deadline thread used more than its runtime.
            if let Some(t) = crate::process::try_current_task() {
                crate::signal::send_to_task(&t, crate::signal::SigInfo::new(crate::signal::SIGXCPU, crate::signal::SI_KERNEL));
            }
        }
        crate::signal::deliver::return_to_user(frame);
    }
}

static HOOKS: Hooks = Hooks;
static HOSTNAME: SpinLock<Option<String>> = SpinLock::new(None);

/// The node name (`uname`, `/proc/sys/kernel/hostname`).
pub fn hostname() -> String {
    HOSTNAME.lock().clone().unwrap_or_else(|| String::from("axle"))
}

/// Sets up the personality: unpacks `initramfs`, registers the hooks, starts the helper
/// thread that sends terminal signals. Returns the number of files unpacked.
pub fn init(initramfs: &[u8]) -> Result<usize, Errno> {
    let n = crate::fs::init(initramfs).map_err(|e| {
        log::error!("initramfs: {} at byte {}", e.what, e.offset);
        Errno::EINVAL
    })?;
    let root = crate::fs::root_location();
    if let Ok(loc) = crate::fs::path::resolve(&root, &root, "/etc/hostname", crate::fs::path::Follow::Yes) {
        let mut buf = [0u8; 64];
        if let Ok(k) = loc.inode().read_at(0, &mut buf) {
            let s = core::str::from_utf8(&buf[..k]).unwrap_or("axle").trim();
            if !s.is_empty() {
                *HOSTNAME.lock() = Some(String::from(s));
            }
        }
    }
    rtos::user::set_hooks(&HOOKS);
    crate::profile::load();
    let t = Thread::new_kernel("ksignald", || crate::signal::deferred_sender()).map_err(|_| Errno::ENOMEM)?;
    rtos::sched::core::start(&t);
    Ok(n)
}

/// Starts pid 1 running `argv[0]` with `argv` and `envp`, its standard streams on the
/// console terminal.
pub fn spawn_init(argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>>) -> Result<(), Errno> {
    let path = String::from_utf8(argv.first().ok_or(Errno::EINVAL)?.clone()).map_err(|_| Errno::EINVAL)?;
    let root = crate::fs::root_location();
    let rlimits = crate::process::limits::Rlimits::default();
    let cmdline: Vec<u8> = argv.iter().flat_map(|a| a.iter().copied().chain(core::iter::once(0))).collect();
    let profile_input = crate::profile::get().map(|_| (argv.clone(), envp.clone()));
    let img = crate::exec::load(&root, &root, &path, argv, envp, rlimits.soft(crate::process::limits::RLIMIT_STACK))?;
    let pid = crate::process::ids::alloc_pid().ok_or(Errno::EAGAIN)?;
    let p = Process::new(pid, img.mm.clone(), alloc::sync::Weak::new(), pid, pid, rlimits);
    *p.exe.lock() = img.exe_path.clone();
    *p.cmdline.lock() = cmdline;
    p.did_exec.store(true, core::sync::atomic::Ordering::Relaxed);
    let files = Arc::new(FdTable::new());
    let console = crate::fs::open(&root, &root, "/dev/console", crate::fs::file::flags::O_RDWR, 0, 0)?;
    for fd in 0..3 {
        files.install(fd, console.clone(), false);
    }
    let fs = Arc::new(SpinLock::new(FsContext { root: root.clone(), cwd: root.clone(), umask: 0o022 }));
    let task = Task::new(pid, p.clone(), files, fs, Arc::new(SigHandlers::default()), SigSet(0));
    task.set_comm(&img.comm);
    // The console is init's controlling terminal; its foreground group is init's.
    crate::fs::tty::console().session.store(pid, core::sync::atomic::Ordering::Release);
    crate::fs::tty::console().pgrp.store(pid, core::sync::atomic::Ordering::Release);
    let name = String::from_utf8_lossy(&img.comm).into_owned();
    let thread = Thread::new_user(&name, &img.frame, img.mm.clone(), 0, Default::default(), u64::MAX).map_err(|_| Errno::ENOMEM)?;
    thread.set_ext(Box::new(task.clone()));
    task.thread.call_once(|| Arc::downgrade(&thread));
    if let Some((argv, envp)) = profile_input {
        crate::profile::on_exec(&task, &img.exe_path, &argv, &envp);
    }
    p.state.lock().tasks.push(task);
    board::debug_exit::debugcon_write(b"axle: user\n");
    rtos::sched::core::start(&thread);
    Ok(())
}

/// Reports how pid 1 ended on the status channel and stops the machine.
pub fn report_init_exit(status: ExitStatus) -> ! {
    let line = match status {
        ExitStatus::Exited(c) => alloc::format!("axle: exit {c}\n"),
        ExitStatus::Signaled(s, _) => alloc::format!("axle: signal {s}\n"),
    };
    log::info!("init ended: {}", line.trim_end());
    board::debug_exit::debugcon_write(line.as_bytes());
    board::debug_exit::qemu_exit(0);
    // Without QEMU's exit device (real hardware) the machine halts.
    rtos::arch::x86_64::cpu::halt_forever()
}
