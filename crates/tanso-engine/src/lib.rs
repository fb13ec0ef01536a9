//! The node that hosts chains: applies commands through the pure core in batches with one
//! durable commit each, binds command ids to outcomes, signs checkpoints, and verifies
//! journals. It does I/O only through the `Store` trait and key files; it knows no JSON.

pub mod chains;
pub mod engine;
mod fptable;
pub mod keys;
pub mod link;
pub mod node;
pub mod outcome;
pub mod proof;
pub mod verify;

pub use chains::{ChainFault, ChainRt};
pub use engine::{system_clock, AnswerFuture, Clock, Engine};
pub use node::{
    index_bytes, Accepted, Answer, Node, NodeConfig, NodeError, Outcome, Submission,
    SEAL_ON_THREAD_MIN,
};

/// Asks the system to back `memory` with 2 MiB pages where it can (Linux: `MADV_HUGEPAGE` on
/// the whole 2 MiB pages inside it), before it is first written. For a large table read at
/// random, such as the id index, one TLB entry then covers 512 times as much: a look-up or a
/// prefetch of a slot no longer walks the page tables. A hint: memory it does not apply to
/// keeps its 4 KiB pages, and nothing is read or written.
fn advise_huge_pages<T>(memory: &[std::mem::MaybeUninit<T>]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = memory.as_ptr() as usize;
        let end = start + std::mem::size_of_val(memory);
        let (from, to) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if from < to {
            // SAFETY: an advice on pages inside an allocation this thread owns, which changes
            // how they are backed, never their contents.
            unsafe {
                libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = memory;
}

/// Asks the CPU for the cache line holding `p`, without waiting for it (a hint: it reads
/// nothing architecturally, and does nothing off x86-64).
fn prefetch_line<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch of any address is only a hint; it never faults.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
