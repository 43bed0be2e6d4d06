//! The process's allocator: a bump arena for small runs, mimalloc once the CLI has read a large
//! topology or the arena is full.
//!
//! Why two: on a topology of a thousand nodes, allocation is about a third of the work and
//! mimalloc makes the whole run a third faster than glibc's `malloc` does (`lint` 165 → 115 ms,
//! `diff ENV` 290 → 200 ms; docs/performance.md). A run on an example topology is over in a
//! millisecond or two, and there neither general-purpose allocator pays: mimalloc spreads a small
//! run's blocks over more fresh pages (263 page faults instead of 173 for `build prod`), and
//! glibc's `malloc` starts with empty caches and spent about 200 instructions on each of
//! `build prod`'s 4,900 allocations and frees, a third of all its instructions. The arena hands
//! out the next bytes of one static block and frees nothing but the newest block (a `String`
//! that grows at the end of the arena grows in place): `build prod` 3.38 → 2.21 million
//! instructions, for 237 instead of 187 page faults (it allocates 700 KB in all), and then 90
//! page faults, once the arena's pages are asked for 16 at a time ([`populate_to`]).
//!
//! So every process starts on the arena, and [`use_mimalloc`] switches new allocations over when
//! the input is large or before the CLI starts threads (mimalloc keeps a heap per thread; the
//! arena is for short runs on one). The arena also switches by itself when a request no longer
//! fits, so a long run on a small topology holds at most [`ARENA_BYTES`] more than it would on
//! mimalloc alone. Blocks are freed and resized by the allocator that made them: a pointer inside
//! the arena is the arena's, anything else mimalloc's.
//!
//! mimalloc starts only when it is switched to. Left to itself it starts in a constructor, before
//! `main`, in every run: it reads its ~45 options from the environment, asks the kernel for
//! random bytes, the memory size and the overcommit setting (124,000 instructions and five system
//! calls; `build prod` 2.21 → 2.10 million instructions, 2.34 → 2.18 ms interleaved without it).
//! `.cargo/config.toml` builds it with `MI_PRIM_HAS_PROCESS_ATTACH`, which leaves the
//! constructor out, and [`use_mimalloc`] calls what the constructor would have called, on the
//! thread that switches (the CLI's main thread, but for an arena that fills up on another). On a
//! target that config does not name, the constructor stays, and the second call finds mimalloc
//! started and changes nothing that matters (it reads the options again).
//!
//! mimalloc is its version 2 (the `v2` feature): version 3 asks the CPU for its features with
//! four `cpuid` instructions at process start, in every run, large or small, and each one traps
//! to the hypervisor on a VM (12 µs apiece on the development VM, measured). It is built without
//! transparent huge pages (`no_thp`): they made it another tenth faster but counted whole 2 MiB
//! pages as resident, 70 instead of 46 MiB for `lint` of 1,000 nodes.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;

/// The arena's size. It is in the binary's zero-filled data, so only the pages a run touches
/// cost memory; four times what `build prod` or `lint` of an example topology allocates in all.
const ARENA_BYTES: usize = 4 << 20;

/// Set once, never cleared: from then on new blocks come from mimalloc.
static LARGE: AtomicBool = AtomicBool::new(false);

#[repr(C, align(4096))]
struct Memory(UnsafeCell<[u8; ARENA_BYTES]>);

// Only the arena hands out parts of it, each part to one owner.
unsafe impl Sync for Memory {}

static MEMORY: Memory = Memory(UnsafeCell::new([0; ARENA_BYTES]));
static ARENA: Bump = Bump::new();

pub struct Hybrid;

/// Sends every allocation made from now on to mimalloc, starting it first. Called by the CLI once
/// it knows the input is large or before it starts threads, and by the arena when it is full;
/// calling it again does nothing.
pub fn use_mimalloc() {
    extern "C" {
        // What mimalloc's constructor calls (src/prim/prim.c): sets up its main heap and
        // thread-exit hook on this thread, reads its options and marks the process started.
        fn _mi_auto_process_init();
    }
    static STARTED: Once = Once::new();
    // Once, not a flag: two threads that fill the arena together must not both start it, and
    // neither may allocate from mimalloc before it has started.
    STARTED.call_once(|| unsafe { _mi_auto_process_init() });
    LARGE.store(true, Ordering::Release);
}

/// A bump allocator over `len` bytes from `base`: `next` is the offset of the first free byte.
/// Every change of `next` is one compare-and-swap, so threads may share it (`build --out`
/// renders envs on every core).
struct Bump {
    next: AtomicUsize,
}

impl Bump {
    const fn new() -> Self {
        Bump {
            next: AtomicUsize::new(0),
        }
    }

    /// A block for `layout` in `base..base + len`, or None if it does not fit.
    fn alloc(&self, base: usize, len: usize, layout: Layout) -> Option<*mut u8> {
        let mut next = self.next.load(Ordering::Acquire);
        loop {
            // A layout's alignment is a power of two: a mask, not a division.
            let mask = layout.align() - 1;
            let start = ((base + next + mask) & !mask) - base;
            let end = start.checked_add(layout.size()).filter(|&e| e <= len)?;
            match self
                .next
                .compare_exchange_weak(next, end, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some((base + start) as *mut u8),
                Err(now) => next = now,
            }
        }
    }

    /// Frees the block at offset `at` if it is the newest; any other block stays allocated.
    fn free(&self, at: usize, size: usize) {
        let _ = self
            .next
            .compare_exchange(at + size, at, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// Resizes the block at offset `at` where it is: it shrinks always, and grows if it is the
    /// newest block and the arena has room. False if it must move.
    fn resize(&self, at: usize, size: usize, new_size: usize, len: usize) -> bool {
        if new_size <= size {
            // The tail is left unused rather than given back: only the newest block's could be.
            return true;
        }
        at + new_size <= len
            && self
                .next
                .compare_exchange(
                    at + size,
                    at + new_size,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

fn arena_base() -> usize {
    MEMORY.0.get() as usize
}

/// The offset of `p` in the arena, if it is the arena's.
fn arena_offset(p: *mut u8) -> Option<usize> {
    let at = (p as usize).wrapping_sub(arena_base());
    (at < ARENA_BYTES).then_some(at)
}

/// The offset up to which the arena's pages have been asked of the kernel.
static POPULATED: AtomicUsize = AtomicUsize::new(0);

/// How much of the arena is asked for at once: 16 pages, one system call instead of 16 faults.
const POPULATE_STEP: usize = 64 << 10;

/// Has the kernel map the arena's pages up to `end` (and on to the next step) in one call, ahead of
/// their first use. Each page costs its zeroing either way, but a page fault on the development
/// VM cost another 0.6 µs (1.47 against 0.83 µs a page, measured with a C program), and
/// `build prod` takes 160 pages of the arena: its page faults went 241 → 90 and its median
/// 2.42 → 2.16 ms (interleaved). A kernel older than 5.14 refuses the call, and the pages fault
/// in as before.
fn populate_to(end: usize) {
    let mut done = POPULATED.load(Ordering::Relaxed);
    while end > done {
        let to = end.next_multiple_of(POPULATE_STEP).min(ARENA_BYTES);
        match POPULATED.compare_exchange(done, to, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => {
                unsafe {
                    libc::madvise(
                        (arena_base() + done) as *mut libc::c_void,
                        to - done,
                        libc::MADV_POPULATE_WRITE,
                    )
                };
                return;
            }
            Err(now) => done = now,
        }
    }
}

/// mimalloc's plain entry points for the alignments every mimalloc block has. The `mimalloc`
/// crate's `GlobalAlloc` calls the aligned ones (`mi_malloc_aligned`, `mi_realloc_aligned`) for
/// every request, and those first look for a block that happens to sit at the alignment asked
/// for: about 20 more instructions for each of a large build's million allocations (4 % of
/// `build --out` of containers 10 × 100 × 4, callgrind). Rust's own `System` allocator makes the
/// same choice with `malloc`. mimalloc's size classes are multiples of 8 bytes, so every block is
/// 8-aligned; a larger alignment goes to the aligned calls, as before.
mod mi {
    use std::alloc::{GlobalAlloc, Layout};
    use std::ffi::c_void;

    use mimalloc::MiMalloc;

    extern "C" {
        fn mi_malloc(size: usize) -> *mut c_void;
        fn mi_zalloc(size: usize) -> *mut c_void;
        fn mi_realloc(p: *mut c_void, new_size: usize) -> *mut c_void;
    }

    /// The alignment of every block mimalloc hands out (its smallest size class, one word).
    const BLOCK_ALIGN: usize = 8;

    pub unsafe fn alloc(layout: Layout) -> *mut u8 {
        if layout.align() <= BLOCK_ALIGN {
            mi_malloc(layout.size()).cast()
        } else {
            MiMalloc.alloc(layout)
        }
    }

    pub unsafe fn alloc_zeroed(layout: Layout) -> *mut u8 {
        if layout.align() <= BLOCK_ALIGN {
            mi_zalloc(layout.size()).cast()
        } else {
            MiMalloc.alloc_zeroed(layout)
        }
    }

    pub unsafe fn dealloc(p: *mut u8, layout: Layout) {
        // `mi_free` finds any block's page from its address, aligned or not.
        MiMalloc.dealloc(p, layout)
    }

    pub unsafe fn realloc(p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= BLOCK_ALIGN {
            mi_realloc(p.cast(), new_size).cast()
        } else {
            MiMalloc.realloc(p, layout, new_size)
        }
    }
}

unsafe impl GlobalAlloc for Hybrid {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !LARGE.load(Ordering::Acquire) {
            if let Some(p) = ARENA.alloc(arena_base(), ARENA_BYTES, layout) {
                populate_to(p as usize - arena_base() + layout.size());
                return p;
            }
            // The arena is full (or the block too large for it): from now on, mimalloc.
            use_mimalloc();
        }
        mi::alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if LARGE.load(Ordering::Acquire) {
            // mimalloc knows which of its pages are fresh from the system and need no zeroing.
            return mi::alloc_zeroed(layout);
        }
        // A block the arena hands out again after a `free` holds old bytes.
        let p = self.alloc(layout);
        if !p.is_null() {
            p.write_bytes(0, layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        match arena_offset(p) {
            Some(at) => ARENA.free(at, layout.size()),
            None => mi::dealloc(p, layout),
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(at) = arena_offset(p) else {
            return mi::realloc(p, layout, new_size);
        };
        if ARENA.resize(at, layout.size(), new_size, ARENA_BYTES) {
            populate_to(at + new_size);
            return p;
        }
        let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(p, new, layout.size());
            ARENA.free(at, layout.size());
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    /// The arena's bookkeeping, on a private arena of 64 bytes at a made-up address (nothing is
    /// written through the pointers).
    #[test]
    fn the_arena_bumps_frees_the_newest_block_and_grows_it_in_place() {
        let (base, len) = (0x1000, 64);
        let a = Bump::new();
        let p = |x: Option<*mut u8>| x.map(|p| p as usize - base);
        assert_eq!(p(a.alloc(base, len, layout(3, 1))), Some(0));
        // Aligned up past the first block.
        assert_eq!(p(a.alloc(base, len, layout(8, 8))), Some(8));
        // An older block is not given back; the newest is.
        a.free(0, 3);
        assert_eq!(p(a.alloc(base, len, layout(1, 1))), Some(16));
        a.free(16, 1);
        assert_eq!(p(a.alloc(base, len, layout(4, 4))), Some(16));
        // The newest block grows in place up to the end, an older one does not.
        assert!(a.resize(16, 4, 48, len));
        assert!(!a.resize(16, 48, 49, len));
        assert!(!a.resize(8, 8, 9, len));
        assert!(a.resize(8, 8, 2, len), "shrinking always stays in place");
        // Full: what does not fit is refused, and the arena is unchanged.
        assert_eq!(a.alloc(base, len, layout(1, 1)), None);
        assert_eq!(a.alloc(base, len, layout(isize::MAX as usize, 1)), None);
        a.free(16, 48);
        assert_eq!(p(a.alloc(base, len, layout(1, 1))), Some(16));
    }

    /// The process's own allocator, which this test process also runs on (other tests allocate
    /// at the same time, so nothing here depends on which block is newest).
    #[test]
    fn blocks_keep_their_bytes_and_their_allocator() {
        let a = Hybrid;
        unsafe {
            let small = a.alloc(layout(24, 8));
            match arena_offset(small) {
                // Its pages have been asked for.
                Some(at) => assert!(POPULATED.load(Ordering::Relaxed) >= at + 24),
                None => assert!(LARGE.load(Ordering::Acquire)),
            }
            small.write(7);
            // Grown past what the arena holds, the block moves to mimalloc with its bytes.
            let big = a.realloc(small, layout(24, 8), ARENA_BYTES + 1);
            assert!(!big.is_null() && arena_offset(big).is_none());
            assert_eq!(big.read(), 7);
            assert!(
                LARGE.load(Ordering::Acquire),
                "a full arena switches to mimalloc"
            );
            let zeroed = a.alloc_zeroed(layout(4096, 64));
            assert!((0..4096).all(|i| zeroed.add(i).read() == 0));
            a.dealloc(zeroed, layout(4096, 64));
            a.dealloc(big, layout(ARENA_BYTES + 1, 8));
        }
    }

    /// mimalloc's plain calls for word alignment, its aligned ones above that: each block sits at
    /// its alignment and keeps its bytes when it grows.
    #[test]
    fn mimalloc_blocks_are_aligned_either_way() {
        use_mimalloc();
        unsafe {
            for align in [1, 2, 8, 16, 64, 4096] {
                for size in [1, 3, 24, 40, 1000, 70_000] {
                    let l = layout(size, align);
                    let p = mi::alloc(l);
                    assert!(!p.is_null() && p as usize % align == 0, "{size}/{align}");
                    p.write_bytes(9, size);
                    let q = mi::realloc(p, l, size * 3);
                    assert!(
                        !q.is_null() && q as usize % align == 0,
                        "{size}/{align} grown"
                    );
                    assert!((0..size).all(|i| q.add(i).read() == 9));
                    mi::dealloc(q, layout(size * 3, align));
                    let z = mi::alloc_zeroed(l);
                    assert!(z as usize % align == 0 && (0..size).all(|i| z.add(i).read() == 0));
                    mi::dealloc(z, l);
                }
            }
        }
    }
}
