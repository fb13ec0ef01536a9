//! Article 6.2 accounting (REFERENCE §1): cooperative approaches, NDCs, initial reports and
//! authorizations on a party's authority chain; ITMO identifiers; corresponding adjustments.

pub mod accounting;
pub mod authority;
pub mod itmo;
pub mod report;
