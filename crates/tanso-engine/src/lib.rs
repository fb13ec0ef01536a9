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
