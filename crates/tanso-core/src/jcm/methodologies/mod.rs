//! The catalogue of executable JCM methodologies, one file per methodology, every version.
//!
//! Adding a methodology is one file here plus its vectors in tests/methodology.rs.
//! An approved version is never edited: a change is a new version beside it (its spec hash,
//! recorded on chain at submission, would reveal an edit).

use crate::jcm::methodology::Methodology;

pub mod ee_equipment;
pub mod solar_pv_storage;

/// Every methodology version the registry can execute; `(code, version)` is unique.
pub static ALL: &[&dyn Methodology] = &[&solar_pv_storage::V1, &ee_equipment::V1];
