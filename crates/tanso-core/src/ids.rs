//! Identifiers: newtypes for every id the registry knows, each validated on construction.
//!
//! Ids are short ASCII strings or integers. Parsing is the only way in from outside; it returns
//! a check code on failure and never panics. This module knows no wire format.

use crate::checks::Code;
use std::fmt;

/// Fixed-size ASCII id helper: validates `[A-Z0-9a-z._:-]{1,max}`.
fn valid_token(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A party: ISO 3166-1 alpha-3 code, e.g. `IND`, `JPN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartyId([u8; 3]);

impl PartyId {
    pub fn parse(s: &str) -> Result<Self, Code> {
        let b = s.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_uppercase) {
            Ok(PartyId([b[0], b[1], b[2]]))
        } else {
            Err(Code::MALFORMED_ID)
        }
    }
    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII uppercase bytes.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

/// A registry: party alpha-3 plus two digits, e.g. `IND01`, `JPN01` (6/CMA.4 annex I para 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegistryId([u8; 5]);

impl RegistryId {
    pub fn parse(s: &str) -> Result<Self, Code> {
        let b = s.as_bytes();
        if b.len() == 5
            && b[..3].iter().all(u8::is_ascii_uppercase)
            && b[3..].iter().all(u8::is_ascii_digit)
        {
            Ok(RegistryId([b[0], b[1], b[2], b[3], b[4]]))
        } else {
            Err(Code::MALFORMED_ID)
        }
    }
    pub fn party(&self) -> PartyId {
        PartyId([self.0[0], self.0[1], self.0[2]])
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("?????")
    }
    pub fn bytes(&self) -> [u8; 5] {
        self.0
    }
    pub fn from_bytes(b: [u8; 5]) -> Result<Self, Code> {
        Self::parse(std::str::from_utf8(&b).map_err(|_| Code::MALFORMED_ID)?)
    }
}

/// A token id, held inline when it is short (up to 24 bytes, as most ids are) and on the heap
/// otherwise: parsing, cloning and dropping the ids every command carries then allocate
/// nothing. It orders, compares and hashes as its text.
macro_rules! string_id {
    ($(#[$m:meta])* $name:ident, $max:expr) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(compact_str::CompactString);

        impl $name {
            pub const MAX_LEN: usize = $max;
            pub fn parse(s: &str) -> Result<Self, Code> {
                if valid_token(s, $max) {
                    Ok($name(compact_str::CompactString::new(s)))
                } else {
                    Err(Code::MALFORMED_ID)
                }
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A mechanism whose body decides things, e.g. `JCM-IND-JPN` (the Joint Committee).
    MechanismId, 32);
string_id!(
    /// A command's id: the idempotency key. Unique per node, forever.
    CommandId, 64);
string_id!(
    /// Who submitted a command (a user or service id, never a name).
    Actor, 64);
string_id!(
    /// A unit kind, e.g. `JCM`, `CCC`, `A64ER`. Kinds are data, defined per registry.
    UnitKindCode, 16);
string_id!(
    /// An account kind, e.g. `party-holding`, `retirement`. Kinds are data.
    AccountKindCode, 32);
string_id!(
    /// A holder kind, e.g. `government`, `company`, `verifier`.
    HolderKind, 32);
string_id!(
    /// A project (JCM project, CCTS offset project) or obliged entity reference.
    ProjectId, 32);
string_id!(
    /// A hold's id, chosen by the caller (order id, transfer id …).
    HoldId, 64);
string_id!(
    /// A business key that makes a cross-chain effect happen at most once
    /// (e.g. `issuance:JC-2026-004:IND01`).
    BusinessKey, 96);
string_id!(
    /// A retirement purpose code, e.g. `ndc`, `oimp`, `voluntary`.
    PurposeCode, 32);
string_id!(
    /// A decision id on a mechanism or party-authority chain.
    DecisionId, 64);

/// A currency: ISO 4217 alpha code. Its minor-unit scale is data (INR 2, JPY 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CurrencyCode([u8; 3]);

impl CurrencyCode {
    pub fn parse(s: &str) -> Result<Self, Code> {
        let b = s.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_uppercase) {
            Ok(CurrencyCode([b[0], b[1], b[2]]))
        } else {
            Err(Code::MALFORMED_ID)
        }
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

/// An account number, unique within its registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub u64);

/// A holder number, unique within its registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HolderId(pub u64);

/// Which body a chain belongs to. A command writes to exactly one chain.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChainId {
    /// A registry's ledger (holdings, transfers, retirements …).
    Registry(RegistryId),
    /// A mechanism body's decisions (e.g. the JCM Joint Committee).
    Mechanism(MechanismId),
    /// A party's authority: NDC, authorizations, corresponding adjustments.
    PartyAuthority(PartyId),
}

impl ChainId {
    /// Text form: `IND01`, `mechanism:JCM-IND-JPN`, `party:IND`.
    pub fn parse(s: &str) -> Result<Self, Code> {
        if let Some(m) = s.strip_prefix("mechanism:") {
            Ok(ChainId::Mechanism(MechanismId::parse(m)?))
        } else if let Some(p) = s.strip_prefix("party:") {
            Ok(ChainId::PartyAuthority(PartyId::parse(p)?))
        } else {
            Ok(ChainId::Registry(RegistryId::parse(
                s.strip_prefix("registry:").unwrap_or(s),
            )?))
        }
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainId::Registry(r) => f.write_str(r.as_str()),
            ChainId::Mechanism(m) => write!(f, "mechanism:{m}"),
            ChainId::PartyAuthority(p) => write!(f, "party:{}", p.as_str()),
        }
    }
}

impl fmt::Display for RegistryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for PartyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A salted SHA-256 of personal or free text kept in the erasable side store. The chain
/// carries only this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonalRef(pub [u8; 32]);

/// A reference to an entry of another (or the same) chain: (chain, sequence, entry hash).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Citation {
    pub chain: ChainId,
    pub seq: u64,
    pub hash: [u8; 32],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_ids_are_alpha3_plus_two_digits() {
        assert!(RegistryId::parse("IND01").is_ok());
        assert_eq!(RegistryId::parse("IN01"), Err(Code::MALFORMED_ID));
        assert_eq!(RegistryId::parse("ind01"), Err(Code::MALFORMED_ID));
        assert_eq!(RegistryId::parse("INDA1"), Err(Code::MALFORMED_ID));
        assert_eq!(
            RegistryId::parse("IND01").map(|r| r.party()),
            PartyId::parse("IND")
        );
    }

    #[test]
    fn chain_ids_round_trip_through_text() {
        for s in ["IND01", "mechanism:JCM-IND-JPN", "party:JPN"] {
            let c = ChainId::parse(s).expect("valid");
            assert_eq!(c.to_string(), s);
        }
        assert_eq!(ChainId::parse("party:JP"), Err(Code::MALFORMED_ID));
        assert_eq!(ChainId::parse("mechanism:"), Err(Code::MALFORMED_ID));
    }

    #[test]
    fn tokens_refuse_spaces_and_overlong_text() {
        assert_eq!(CommandId::parse("a b"), Err(Code::MALFORMED_ID));
        assert!(CommandId::parse(&"x".repeat(64)).is_ok());
        assert_eq!(CommandId::parse(&"x".repeat(65)), Err(Code::MALFORMED_ID));
    }

    proptest::proptest! {
        /// Ids short enough to be held inline and ids long enough for the heap keep their text,
        /// and compare, order and hash as their text does, across the two.
        #[test]
        fn token_ids_keep_the_order_and_equality_of_their_text(
            a in "[a-z0-9._:-]{1,64}",
            b in "[a-z0-9._:-]{1,64}",
        ) {
            use std::hash::{BuildHasher, RandomState};
            let (x, y) = (CommandId::parse(&a).unwrap(), CommandId::parse(&b).unwrap());
            proptest::prop_assert_eq!(x.as_str(), a.as_str());
            proptest::prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            proptest::prop_assert_eq!(x == y, a == b);
            let h = RandomState::new();
            proptest::prop_assert_eq!(h.hash_one(&x), h.hash_one(a.as_str()));
        }
    }
}
