//! Mapping an executable and its stack into a new address space.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use rtos::arch::x86_64::trap::TrapFrame;
use rtos::mm::addrspace::{AddressSpace, Placement, Prot, Vma, VmFlags, VmaName};
use rtos::mm::layout::{page_align_down, page_align_up, PAGE_SIZE};

use crate::errno::Errno;
use crate::fs::path::{self, Follow, Location};
use crate::fs::vfs::{FileType, Inode};
use super::{elf, stack, stack::at};

/// Top of the main stack (Linux `STACK_TOP` for 47-bit user space, no randomisation).
pub const STACK_TOP: u64 = 0x7fff_ffff_f000;
/// Load bias of position-independent executables (Linux `ELF_ET_DYN_BASE`).
pub const PIE_BASE: u64 = 0x5555_5555_4000;
/// Where an ELF interpreter is loaded.
pub const INTERP_BASE: u64 = 0x7fff_f7fc_0000 - 0x100_0000;
/// Initial size of the stack mapping (it grows down on demand).
const STACK_INITIAL: u64 = 132 * 1024;

/// A loaded program, ready to enter.
pub struct Image {
    pub mm: Arc<AddressSpace>,
    pub frame: TrapFrame,
    pub exe_path: String,
    pub comm: Vec<u8>,
}

struct Loaded {
    entry: u64,
    bias: u64,
    phdr: u64,
    phnum: u16,
    end: u64,
}

fn read_file(inode: &Arc<dyn Inode>, max: usize) -> Result<Vec<u8>, Errno> {
    let size = (inode.stat().size as usize).min(max);
    let mut buf = vec![0u8; size];
    let n = inode.read_at(0, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

fn map_elf(mm: &AddressSpace, inode: &Arc<dyn Inode>, path: &Location, plan: &elf::LoadPlan, bias: u64) -> Result<Loaded, Errno> {
    let obj = inode.mem_object().ok_or(Errno::ENOEXEC)?;
    let st = inode.stat();
    let name = VmaName::File(st.dev, st.ino, Arc::from(path.path_string().as_str()));
    let mut inner = mm.lock();
    let mut end = 0;
    for seg in &plan.segments {
        let start = bias + seg.vaddr;
        let page = page_align_down(start);
        let file_end = start + seg.filesz;
        let mem_end = start + seg.memsz;
        let prot = Prot::from_bits_truncate(seg.prot);
        if seg.filesz > 0 {
            let len = page_align_up(file_end) - page;
            let vma = Vma { prot, flags: VmFlags::empty(), object: Some(obj.clone()), offset: page_align_down(seg.offset), name: name.clone() };
            mm.map(&mut inner, Placement::Fixed(page), len, vma).map_err(|_| Errno::ENOMEM)?;
        }
        let anon_start = if seg.filesz > 0 { page_align_up(file_end) } else { page };
        if page_align_up(mem_end) > anon_start {
            let vma = Vma { prot, flags: VmFlags::empty(), object: None, offset: 0, name: VmaName::None };
            mm.map(&mut inner, Placement::Fixed(anon_start), page_align_up(mem_end) - anon_start, vma).map_err(|_| Errno::ENOMEM)?;
        }
        end = end.max(page_align_up(mem_end));
    }
    drop(inner);
    // Zero the file bytes that share the last file page with .bss.
    for seg in &plan.segments {
        let start = bias + seg.vaddr;
        let file_end = start + seg.filesz;
        if seg.memsz > seg.filesz && seg.filesz > 0 && file_end % PAGE_SIZE != 0 {
            let n = (page_align_up(file_end) - file_end).min(seg.memsz - seg.filesz) as usize;
            let zeros = vec![0u8; n];
            if seg.prot & elf::PROT_WRITE != 0 {
                mm.write(file_end, &zeros).map_err(|_| Errno::EFAULT)?;
            }
        }
    }
    Ok(Loaded { entry: bias + plan.entry, bias, phdr: plan.phdr.map_or(0, |p| bias + p), phnum: plan.phnum, end })
}

/// Resolves and checks an executable: a regular file with an execute bit.
pub fn open_exec(root: &Location, cwd: &Location, path: &str) -> Result<Location, Errno> {
    let loc = path::resolve(root, cwd, path, Follow::Yes)?;
    let st = loc.inode().stat();
    match loc.inode().kind() {
        FileType::Regular => {}
        FileType::Directory => return Err(Errno::EACCES),
        _ => return Err(Errno::EACCES),
    }
    if st.mode & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    Ok(loc)
}

/// Loads `path` with `argv`/`envp` into a new address space.
pub fn load(root: &Location, cwd: &Location, path: &str, mut argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>>, stack_limit: u64) -> Result<Image, Errno> {
    let mut path = String::from(path);
    let mut loc = open_exec(root, cwd, &path)?;
    // Interpreter scripts, up to 4 levels like Linux.
    for depth in 0.. {
        let head = read_file(loc.inode(), 256)?;
        if !head.starts_with(b"#!") {
            break;
        }
        if depth >= 4 {
            return Err(Errno::ELOOP);
        }
        let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
        let line = core::str::from_utf8(&head[2..line_end]).map_err(|_| Errno::ENOEXEC)?.trim();
        let (interp, arg) = match line.split_once([' ', '\t']) {
            Some((i, a)) => (i.trim(), Some(a.trim())),
            None => (line, None),
        };
        if interp.is_empty() {
            return Err(Errno::ENOEXEC);
        }
        let mut new_argv = vec![interp.as_bytes().to_vec()];
        if let Some(a) = arg.filter(|a| !a.is_empty()) {
            new_argv.push(a.as_bytes().to_vec());
        }
        new_argv.push(path.as_bytes().to_vec());
        new_argv.extend(argv.into_iter().skip(1));
        argv = new_argv;
        path = String::from(interp);
        loc = open_exec(root, cwd, &path)?;
    }
    let size = loc.inode().stat().size;
    let head = read_file(loc.inode(), 64 * 1024)?;
    let plan = elf::plan_with_size(&head, size).map_err(|_| Errno::ENOEXEC)?;
    let interp_loc = match &plan.interp {
        Some(i) => Some(open_exec(root, cwd, i).map_err(|e| if e == Errno::EACCES { Errno::ELIBBAD } else { e })?),
        None => None,
    };
    let mm = AddressSpace::new().map_err(|_| Errno::ENOMEM)?;
    let bias = if plan.pie { PIE_BASE } else { 0 };
    let main = map_elf(&mm, loc.inode(), &loc, &plan, bias)?;
    let mut entry = main.entry;
    let mut interp_base = 0;
    if let Some(il) = &interp_loc {
        let ihead = read_file(il.inode(), 64 * 1024)?;
        let iplan = elf::plan_with_size(&ihead, il.inode().stat().size).map_err(|_| Errno::ELIBBAD)?;
        let ibias = if iplan.pie { INTERP_BASE } else { 0 };
        let l = map_elf(&mm, il.inode(), il, &iplan, ibias)?;
        entry = l.entry;
        interp_base = l.bias;
    }
    {
        let mut inner = mm.lock();
        inner.brk_start = main.end;
        inner.brk = main.end;
        inner.stack_limit = STACK_TOP.saturating_sub(stack_limit.clamp(128 * 1024, 1 << 32));
        inner.mmap_base = STACK_TOP - stack_limit.clamp(128 << 20, 1 << 36) - (1 << 20);
        let vma = Vma { prot: Prot::READ | Prot::WRITE, flags: VmFlags::GROWSDOWN | VmFlags::STACK, object: None, offset: 0, name: VmaName::Stack };
        mm.map(&mut inner, Placement::Fixed(STACK_TOP - STACK_INITIAL), STACK_INITIAL, vma).map_err(|_| Errno::ENOMEM)?;
    }
    let (vdso_base, _) = crate::vdso::map(&mm)?;
    let mut random = [0u8; 16];
    crate::random::fill(&mut random);
    let mut auxv = vec![
        (at::SYSINFO_EHDR, vdso_base),
        (at::HWCAP, rtos::arch::x86_64::cpu::hwcap()),
        (at::PAGESZ, PAGE_SIZE),
        (at::CLKTCK, 100),
        (at::PHDR, main.phdr),
        (at::PHENT, 56),
        (at::PHNUM, u64::from(main.phnum)),
        (at::BASE, interp_base),
        (at::FLAGS, 0),
        (at::ENTRY, main.entry),
        (at::UID, 0),
        (at::EUID, 0),
        (at::GID, 0),
        (at::EGID, 0),
        (at::SECURE, 0),
        (at::HWCAP2, 0),
        (at::MINSIGSTKSZ, 3632),
    ];
    if vdso_base == 0 {
        auxv.remove(0);
    }
    let argv_refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    let envp_refs: Vec<&[u8]> = envp.iter().map(|e| e.as_slice()).collect();
    let exe_path = loc.path_string();
    let img = stack::build(STACK_TOP, &argv_refs, &envp_refs, &auxv, path.as_bytes(), random);
    if img.bytes.len() as u64 > stack_limit.clamp(128 * 1024, 1 << 32) / 4 + 4096 {
        return Err(Errno::E2BIG);
    }
    // Make sure the stack mapping reaches the arguments (it grows on demand otherwise).
    if img.sp < STACK_TOP - STACK_INITIAL {
        let mut inner = mm.lock();
        let low = page_align_down(img.sp);
        let vma = Vma { prot: Prot::READ | Prot::WRITE, flags: VmFlags::GROWSDOWN | VmFlags::STACK, object: None, offset: 0, name: VmaName::Stack };
        inner.vmas.remove(STACK_TOP - STACK_INITIAL, STACK_TOP);
        mm.map(&mut inner, Placement::Fixed(low), STACK_TOP - low, vma).map_err(|_| Errno::ENOMEM)?;
    }
    mm.write(img.sp, &img.bytes).map_err(|_| Errno::EFAULT)?;
    let frame = TrapFrame::new_user(entry, img.sp);
    let comm = path.rsplit('/').next().unwrap_or("").as_bytes().to_vec();
    Ok(Image { mm, frame, exe_path, comm })
}
