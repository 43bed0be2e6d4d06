//! The process's allocator: the C library's `malloc` for small topologies, mimalloc once the CLI
//! has read a large one.
//!
//! Why two: on a topology of a thousand nodes, allocation is about a third of the work and
//! mimalloc makes the whole run a third faster than glibc's `malloc` does (`lint` 165 → 115 ms,
//! `diff ENV` 290 → 200 ms; docs/performance.md). On an example topology it is the other way
//! round: mimalloc spreads a small run's blocks over more fresh pages than `malloc`, which packs
//! them (263 page faults instead of 173 for `build prod`, about 2 µs each on the development VM),
//! and that costs more than its cheaper allocations save. So every process starts on `malloc` and
//! [`use_mimalloc`] switches new allocations over when the input is large.
//!
//! mimalloc is its version 2 (the `v2` feature): version 3 asks the CPU for its features with
//! four `cpuid` instructions at process start, in every run, large or small, and each one traps
//! to the hypervisor on a VM (12 µs apiece on the development VM, measured). It is built without
//! transparent huge pages (`no_thp`): they made it another tenth faster but counted whole 2 MiB
//! pages as resident, 70 instead of 46 MiB for `lint` of 1,000 nodes.
//!
//! Blocks are freed and resized by the allocator that made them: mimalloc's page map answers
//! whether a pointer is one of its own (`mi_is_in_heap_region`, one lookup), and nothing before
//! the switch can be mimalloc's. A resized block stays with its allocator.
//!
//! A build for musl (`--target x86_64-unknown-linux-musl`, see docs/performance.md) uses mimalloc
//! from its first allocation ([`LARGE`]).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

use mimalloc::MiMalloc;

/// Set once, never cleared: from then on new blocks come from mimalloc. A musl build starts set:
/// with musl's own `malloc` its `build prod` was slower than the glibc build's (2.4 against
/// 2.2 ms, one hyperfine run), with mimalloc a third faster.
static LARGE: AtomicBool = AtomicBool::new(cfg!(target_env = "musl"));

pub struct Hybrid;

/// Sends every allocation made from now on to mimalloc. Called by the CLI once it knows the input
/// is large; calling it again does nothing.
pub fn use_mimalloc() {
    if LARGE.load(Ordering::Acquire) {
        return;
    }
    // One allocation initializes mimalloc (its page map included) before any pointer is asked
    // about, so that `owned_by_mimalloc` never meets a half-built allocator.
    unsafe {
        let layout = Layout::from_size_align_unchecked(16, 8);
        let p = MiMalloc.alloc(layout);
        if !p.is_null() {
            MiMalloc.dealloc(p, layout);
        }
    }
    LARGE.store(true, Ordering::Release);
}

/// Whether `p` was allocated by mimalloc; always false before the switch.
fn owned_by_mimalloc(p: *mut u8) -> bool {
    LARGE.load(Ordering::Acquire) && unsafe { libmimalloc_sys::mi_is_in_heap_region(p.cast()) }
}

unsafe impl GlobalAlloc for Hybrid {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if LARGE.load(Ordering::Relaxed) {
            MiMalloc.alloc(layout)
        } else {
            System.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if LARGE.load(Ordering::Relaxed) {
            MiMalloc.alloc_zeroed(layout)
        } else {
            System.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if owned_by_mimalloc(p) {
            MiMalloc.dealloc(p, layout)
        } else {
            System.dealloc(p, layout)
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if owned_by_mimalloc(p) {
            MiMalloc.realloc(p, layout, new_size)
        } else {
            System.realloc(p, layout, new_size)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A musl build has no "before the switch".
    #[cfg(not(target_env = "musl"))]
    #[test]
    fn blocks_from_before_the_switch_are_freed_and_resized_by_malloc() {
        // The test drives the allocator directly; switching also switches this test process,
        // which is what the switch is for.
        let a = Hybrid;
        unsafe {
            let small = Layout::from_size_align(24, 8).unwrap();
            let before = a.alloc(small);
            assert!(!owned_by_mimalloc(before));
            use_mimalloc();
            let after = a.alloc(small);
            assert!(owned_by_mimalloc(after), "new blocks come from mimalloc");
            assert!(!owned_by_mimalloc(before), "old blocks are still malloc's");
            // Growing each keeps it with its allocator and keeps its bytes.
            before.write(7);
            after.write(9);
            let before = a.realloc(before, small, 4096);
            let after = a.realloc(after, small, 1 << 20);
            assert_eq!((before.read(), after.read()), (7, 9));
            assert!(!owned_by_mimalloc(before) && owned_by_mimalloc(after));
            a.dealloc(before, Layout::from_size_align(4096, 8).unwrap());
            a.dealloc(after, Layout::from_size_align(1 << 20, 8).unwrap());
        }
    }
}
