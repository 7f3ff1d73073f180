//! A minimal sysfs, mounted at `/sys`: the CPU topology under `devices/system/cpu/` and
//! an empty `fs/cgroup/` (no cgroup controllers). Nothing else is claimed.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::procfs::cpu::online_mask;
use super::procfs::node::{self, cpu_list, hex_mask, DirSource, Fs, GenDir};
use super::vfs::{DirEntry, FileType, Inode};
use crate::errno::Errno;

/// `SYSFS_MAGIC`.
pub const SYSFS_MAGIC: u64 = 0x6265_6572;

/// The sysfs device (0:20; devpts has 0:22).
pub const FS: Fs = Fs { dev: 0x14, magic: SYSFS_MAGIC };

/// Attribute files cannot be opened for writing (`EACCES`), as on Linux.
fn attr(ino: u64, f: impl Fn() -> String + Send + Sync + 'static) -> Arc<dyn Inode> {
    node::file(FS, ino, Errno::EACCES, move || Ok(f()))
}

fn cpu_ino(cpu: u32, sub: u64) -> u64 {
    0x1000 + u64::from(cpu) * 0x100 + sub
}

/// `cpuN/`: the topology of one CPU (one package, one thread per core).
fn cpu_dir(cpu: u32) -> Arc<dyn Inode> {
    let me = 1u64 << cpu;
    let all = online_mask();
    let bits = 64 - all.leading_zeros();
    let own_list = move || format!("{}\n", cpu_list(me));
    let all_list = move || format!("{}\n", cpu_list(online_mask()));
    let own_mask = move || format!("{}\n", hex_mask(me, bits));
    let all_mask = move || format!("{}\n", hex_mask(online_mask(), bits));
    let topology = GenDir::table(
        FS,
        cpu_ino(cpu, 1),
        0o755,
        alloc::vec![
            ("core_cpus", attr(cpu_ino(cpu, 2), own_mask)),
            ("core_cpus_list", attr(cpu_ino(cpu, 3), own_list)),
            ("core_id", attr(cpu_ino(cpu, 4), move || format!("{cpu}\n"))),
            ("core_siblings", attr(cpu_ino(cpu, 5), all_mask)),
            ("core_siblings_list", attr(cpu_ino(cpu, 6), all_list)),
            ("die_id", attr(cpu_ino(cpu, 7), || String::from("0\n"))),
            ("package_cpus", attr(cpu_ino(cpu, 8), all_mask)),
            ("package_cpus_list", attr(cpu_ino(cpu, 9), all_list)),
            ("physical_package_id", attr(cpu_ino(cpu, 10), || String::from("0\n"))),
            ("thread_siblings", attr(cpu_ino(cpu, 11), own_mask)),
            ("thread_siblings_list", attr(cpu_ino(cpu, 12), own_list)),
        ],
    );
    GenDir::table(FS, cpu_ino(cpu, 0), 0o755, alloc::vec![("topology", topology)])
}

/// `devices/system/cpu/`: `online`, `possible`, `present`, `offline`, `kernel_max` and
/// one directory per CPU.
struct CpuDir {
    table: node::Table,
}

impl DirSource for CpuDir {
    fn entries(&self) -> Result<Vec<DirEntry>, Errno> {
        let mut v = self.table.entries()?;
        for c in rtos::percpu::all() {
            v.push(DirEntry { name: format!("cpu{}", c.id), ino: cpu_ino(c.id, 0), kind: FileType::Directory });
        }
        Ok(v)
    }

    fn lookup(&self, name: &str) -> Result<Arc<dyn Inode>, Errno> {
        if let Some(n) = name.strip_prefix("cpu") {
            if let Ok(id) = n.parse::<u32>() {
                if id.to_string() == n && rtos::percpu::get(id).is_some() {
                    return Ok(cpu_dir(id));
                }
            }
        }
        self.table.lookup(name)
    }
}

/// The root of a new sysfs.
pub fn new_root() -> Arc<dyn Inode> {
    let online = || format!("{}\n", cpu_list(online_mask()));
    let cpu = GenDir::make(
        FS,
        10,
        0o755,
        CpuDir {
            table: node::Table(alloc::vec![
                ("kernel_max", attr(11, || format!("{}\n", rtos::percpu::MAX_CPUS - 1))),
                ("offline", attr(12, || String::from("\n"))),
                ("online", attr(13, online)),
                ("possible", attr(14, online)),
                ("present", attr(15, online)),
            ]),
        },
    );
    let system = GenDir::table(FS, 3, 0o755, alloc::vec![("cpu", cpu)]);
    let devices = GenDir::table(FS, 2, 0o755, alloc::vec![("system", system)]);
    let cgroup = GenDir::table(FS, 5, 0o755, Vec::new());
    let fs = GenDir::table(FS, 4, 0o755, alloc::vec![("cgroup", cgroup)]);
    GenDir::table(FS, 1, 0o555, alloc::vec![("devices", devices), ("fs", fs)])
}
