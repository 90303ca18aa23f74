//! File mappings that a lost page cannot end the process with.
//!
//! Touching a mapped page the file no longer backs (the file was shortened
//! in place) or that the disk cannot read raises `SIGBUS`, whose default
//! action ends the process. Every byte a response sends from a mapping is
//! checked against the file's length first (see `body.rs`), but that check
//! and the copy that follows are not atomic, and an unreadable sector is
//! not visible to any check. So the edge registers each mapping here and
//! handles `SIGBUS`: a fault inside a registered mapping gets a page of
//! zeros mapped over the lost one, the mapping is marked poisoned, and the
//! copy resumes. Whoever sends from a poisoned mapping ends that answer
//! with an error rather than let the zeros stand for the file, and the
//! store maps the file afresh. A fault anywhere else goes to the handler
//! that was there before (Rust's own, for stack overflows) or ends the
//! process as it always would.
//!
//! The handler can neither allocate nor lock, so mappings live in a fixed
//! table of atomics ([`SLOTS`] places); when it is full, or the handler
//! could not be installed, files are read instead of mapped.
//! `libc` is used directly: no crate offers a fault-tolerant mapping, and
//! the handler must run inside the signal.

use bytes::Bytes;
use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Mappings held at once (one per file in the metadata cache, at most).
pub const SLOTS: usize = 16 * 1024;

/// One registered mapping: its address range, and whether it lost a page.
struct Slot {
    taken: AtomicBool,
    start: AtomicUsize,
    /// Zero while the slot is free or being filled.
    len: AtomicUsize,
    poisoned: AtomicBool,
}

impl Slot {
    const fn new() -> Self {
        Self {
            taken: AtomicBool::new(false),
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
        }
    }

    fn holds(&self, address: usize) -> bool {
        let len = self.len.load(Ordering::Acquire);
        let start = self.start.load(Ordering::Relaxed);
        len != 0 && (start..start + len).contains(&address)
    }
}

static TABLE: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];
/// Faults recovered from since start.
static RECOVERED: AtomicUsize = AtomicUsize::new(0);
/// The handler in place before ours; set once ours is installed.
static PREVIOUS: OnceLock<Option<libc::sigaction>> = OnceLock::new();

/// A file's bytes, mapped, that read as zeros rather than fault where the
/// file lost them.
#[derive(Clone)]
pub struct Mapped {
    bytes: Bytes,
    slot: usize,
}

/// Owns the mapping and its slot: the slot is given back before the pages
/// are unmapped.
struct Owner {
    map: memmap2::Mmap,
    slot: usize,
}

impl AsRef<[u8]> for Owner {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let slot = &TABLE[self.slot];
        slot.len.store(0, Ordering::Release);
        slot.start.store(0, Ordering::Relaxed);
        slot.taken.store(false, Ordering::Release);
        // `map` is unmapped after this, when the fields drop.
    }
}

impl Mapped {
    /// Maps `file` (not empty) whole; `None` when mappings cannot be made
    /// safe here (no handler, or every slot taken): read it instead.
    pub fn map(file: &File) -> io::Result<Option<Self>> {
        if !handler_installed() {
            return Ok(None);
        }
        let Some(slot) = (0..SLOTS).find(|&i| {
            TABLE[i]
                .taken
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        }) else {
            return Ok(None);
        };
        // SAFETY: a page the file stops backing reads as zeros (the handler
        // below) and poisons the mapping, which every reader checks.
        let map = match unsafe { memmap2::Mmap::map(file) } {
            Ok(map) => map,
            Err(error) => {
                TABLE[slot].taken.store(false, Ordering::Release);
                return Err(error);
            }
        };
        let entry = &TABLE[slot];
        entry.poisoned.store(false, Ordering::Relaxed);
        entry.start.store(map.as_ptr() as usize, Ordering::Relaxed);
        entry.len.store(map.len(), Ordering::Release);
        Ok(Some(Self {
            bytes: Bytes::from_owner(Owner { map, slot }),
            slot,
        }))
    }

    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// False once a page of it was lost (what was read from it since may
    /// be zeros instead of the file), or it was found to outlast the file.
    pub fn intact(&self) -> bool {
        !TABLE[self.slot].poisoned.load(Ordering::Acquire)
    }

    /// Marks it as no longer the file's (found shorter), so that the store
    /// maps the file afresh.
    pub fn poison(&self) {
        TABLE[self.slot].poisoned.store(true, Ordering::Release);
    }
}

/// Faults recovered from since the process started.
pub fn recovered() -> usize {
    RECOVERED.load(Ordering::Relaxed)
}

fn page_size() -> usize {
    static SIZE: OnceLock<usize> = OnceLock::new();
    // SAFETY: sysconf reads a constant.
    *SIZE.get_or_init(|| usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096))
}

/// Installs the handler once; false if it could not be.
fn handler_installed() -> bool {
    PREVIOUS
        .get_or_init(|| {
            page_size();
            // SAFETY: a zeroed sigaction is valid; the handler only touches
            // atomics and makes one system call.
            unsafe {
                let mut ours: libc::sigaction = std::mem::zeroed();
                ours.sa_sigaction = on_sigbus as *const () as usize;
                ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut ours.sa_mask);
                let mut previous: libc::sigaction = std::mem::zeroed();
                (libc::sigaction(libc::SIGBUS, &ours, &mut previous) == 0).then_some(previous)
            }
        })
        .is_some()
}

extern "C" fn on_sigbus(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo with SA_SIGINFO.
    let address = unsafe { (*info).si_addr() } as usize;
    if let Some(slot) = TABLE.iter().find(|slot| slot.holds(address)) {
        let page = address & !(page_size() - 1);
        // SAFETY: the page lies inside a live mapping of ours (its owner
        // gives the slot back before unmapping). mmap is a plain system
        // call on Linux, safe in a handler though POSIX does not list it.
        let zeros = unsafe {
            libc::mmap(
                page as *mut c_void,
                page_size(),
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if zeros != libc::MAP_FAILED {
            slot.poisoned.store(true, Ordering::Release);
            RECOVERED.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    forward(signal, info, context);
}

/// Hands a fault that is not ours to the handler before ours, or restores
/// the default action: returning re-runs the faulting access, which then
/// ends the process as it would have without us.
fn forward(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    let previous = PREVIOUS.get().copied().flatten();
    match previous {
        Some(previous) if previous.sa_sigaction != libc::SIG_DFL && previous.sa_sigaction != libc::SIG_IGN => {
            // SAFETY: the handler that was installed, called as it was declared.
            unsafe {
                if previous.sa_flags & libc::SA_SIGINFO != 0 {
                    let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void) =
                        std::mem::transmute(previous.sa_sigaction);
                    handler(signal, info, context);
                } else {
                    let handler: extern "C" fn(libc::c_int) = std::mem::transmute(previous.sa_sigaction);
                    handler(signal);
                }
            }
        }
        _ => {
            // SAFETY: restoring the default action with a zeroed sigaction.
            unsafe {
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(signal, &default, std::ptr::null_mut());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_page_the_file_lost_reads_as_zeros_and_poisons_the_mapping() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&vec![7u8; 64 * 1024]).unwrap();
        let mapped = Mapped::map(&file).unwrap().expect("mapped");
        let other = Mapped::map(&file).unwrap().expect("mapped");
        assert!(mapped.intact());
        file.set_len(4096).unwrap();
        let bytes = mapped.bytes();
        // SAFETY: in bounds of the mapping; volatile so the read happens.
        let lost = unsafe { std::ptr::read_volatile(bytes.as_ptr().add(40_000)) };
        assert_eq!(lost, 0, "the lost page reads as zeros");
        assert_eq!(bytes[100], 7, "the pages the file still backs are its bytes");
        assert!(!mapped.intact(), "and the mapping says it lost one");
        assert!(other.intact(), "another mapping of the file is judged by its own reads");
        assert!(recovered() >= 1);
    }

    #[test]
    fn slots_are_given_back_when_the_last_copy_goes() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"x").unwrap();
        let mapped = Mapped::map(&file).unwrap().expect("mapped");
        let slot = mapped.slot;
        let copy = mapped.bytes().slice(0..1);
        drop(mapped);
        assert!(TABLE[slot].taken.load(Ordering::Acquire), "a slice still holds it");
        drop(copy);
        assert!(!TABLE[slot].taken.load(Ordering::Acquire));
        assert!(!TABLE[slot].holds(0));
    }
}
