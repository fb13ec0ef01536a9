//! Tanso's pure core: the registry's domain and its rules, as a deterministic state machine.
//!
//! Commands come in, are checked against the catalogue of numbered checks, and become events;
//! state is a fold over events; entries hash-link events into chains. Time and fresh ids are
//! arguments. Architecture invariant: this crate does no I/O, no async, no serde, reads no
//! clock and draws no random number — so the same inputs always give the same outputs, in
//! production, in replay, and in simulation.

pub mod article6;
mod blocks;
pub mod ccts;
pub mod chain;
pub mod checkpoint;
pub mod checks;
pub mod encode;
pub mod entry;
pub mod ids;
pub mod jcm;
pub mod link;
pub mod merkle;
pub mod model;
pub mod rangeset;
pub mod registry;
pub mod sha;
pub mod units;

pub use blocks::OwnerStores;
pub use chain::ChainState;
pub use checks::{Code, Rejection};
pub use entry::Entry;
pub use ids::*;
pub use model::*;
pub use units::*;
