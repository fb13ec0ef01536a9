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
    Accepted, Answer, Node, NodeConfig, NodeError, Outcome, Submission, SEAL_ON_THREAD_MIN,
};
