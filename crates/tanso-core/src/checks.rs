//! The catalogue of numbered checks: every rejection Tanso can give, with a stable code, a
//! short name, its family, whether it is permanent or transient, and a plain-words message.
//!
//! Numbering follows the UK ETS registry as `LINK.md` §7.7 extends it: 1xxx transferring side,
//! 2xxx acquiring side, 25xx required fields and identifiers, 3xxx units and quantities, 45xx
//! sequence and state, 6xxx envelope (61xx the HTTP API), 7xxx storage (transient). The CLI,
//! the API, the docs and the tests all read this one table; nothing else invents codes.

use std::fmt;

/// A check code. Stable forever once published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(pub u16);

/// Whether retrying the same command can succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// The answer is final; it is bound to the command id.
    Permanent,
    /// Retry the same command later; never bound to the command id.
    Transient,
}

/// One catalogue row.
#[derive(Clone, Copy, Debug)]
pub struct CheckDef {
    pub code: Code,
    pub name: &'static str,
    pub family: &'static str,
    pub class: Class,
    pub text: &'static str,
}

macro_rules! catalogue {
    ($( $konst:ident = $num:literal, $family:literal, $class:ident, $text:literal; )*) => {
        impl Code {
            $( pub const $konst: Code = Code($num); )*
        }
        /// Every check, ascending by code.
        pub const CATALOGUE: &[CheckDef] = &[
            $( CheckDef {
                code: Code($num),
                name: stringify!($konst),
                family: $family,
                class: Class::$class,
                text: $text,
            }, )*
        ];
    };
}

catalogue! {
    FROM_ACCOUNT_UNKNOWN = 1002, "transferring", Permanent, "transferring account does not exist";
    FROM_ACCOUNT_CLOSED = 1003, "transferring", Permanent, "transferring account is closed";
    FROM_ACCOUNT_FROZEN = 1004, "transferring", Permanent, "transferring account is frozen";
    FROM_ACCOUNT_KIND_NOT_ALLOWED = 1007, "transferring", Permanent, "this transaction is not allowed from the transferring account's kind";
    COUNTERPARTY_NOT_ENABLED = 1020, "transferring", Permanent, "the counterparty registry is not enabled for this transfer";
    TO_ACCOUNT_UNKNOWN = 2002, "acquiring", Permanent, "acquiring account does not exist";
    TO_ACCOUNT_CLOSED = 2003, "acquiring", Permanent, "acquiring account is closed";
    TO_ACCOUNT_FROZEN = 2004, "acquiring", Permanent, "acquiring account is frozen";
    TO_ACCOUNT_KIND_NOT_ALLOWED = 2007, "acquiring", Permanent, "this transaction is not allowed into the acquiring account's kind";
    SAME_ACCOUNT = 2508, "required fields", Permanent, "acquiring and transferring account must differ";
    TRANSFER_ID_MALFORMED = 2510, "required fields", Permanent, "transfer id is malformed or does not belong to its sender";
    QUANTITY_MISMATCH = 2511, "required fields", Permanent, "quantity differs from the sum of the blocks";
    ID_REUSED_WITH_OTHER_CONTENT = 2512, "required fields", Permanent, "command id already used with different content";
    MALFORMED_ID = 2513, "required fields", Permanent, "identifier is malformed";
    COMMAND_NOT_FOR_CHAIN = 2515, "required fields", Permanent, "this command cannot be written to that kind of chain";
    QUANTITY_EXCEEDS_AVAILABLE = 3005, "units", Permanent, "quantity exceeds the units available (not held, retired or cancelled) in the account";
    QUANTITY_ZERO = 3007, "units", Permanent, "a non-zero quantity is required";
    QUANTITY_INVALID = 3008, "units", Permanent, "quantity must be a positive whole number that fits in 64 bits";
    ALREADY_CORRECTED = 3019, "units", Permanent, "the cited entry was already corrected";
    RANGE_START_AFTER_END = 3030, "units", Permanent, "serial range start is after its end";
    RANGES_OVERLAP = 3031, "units", Permanent, "serial ranges in the request overlap";
    ATTRIBUTES_DISAGREE = 3032, "units", Permanent, "block attributes disagree with the originating record";
    SERIALS_ALREADY_PRESENT = 3033, "units", Permanent, "serials are already held or pending in the acquiring registry";
    UNITS_HELD = 3034, "units", Permanent, "units are reserved by another hold";
    UNITS_FROZEN = 3035, "units", Permanent, "units are frozen (reconciliation or legal hold)";
    UNITS_RETIRED_OR_CANCELLED = 3036, "units", Permanent, "units are retired or cancelled and can never move again";
    UNITS_NOT_HELD = 3038, "units", Permanent, "serials are not held by the account";
    RANGE_INVALID = 3039, "units", Permanent, "serial numbers start at 1";
    VINTAGE_INVALID = 3040, "units", Permanent, "vintage must be a four-digit year";
    UNIT_KIND_UNKNOWN = 3041, "units", Permanent, "unit kind is not defined in this registry";
    PROJECT_RULE = 3042, "units", Permanent, "unit kind requires a project, or forbids one";
    PERIOD_INVALID = 3043, "units", Permanent, "mitigation period or date is invalid";
    SELECTION_AMBIGUOUS = 3044, "units", Permanent, "the selection matches more than one set of units: name the kind, project, vintage and labels, or the ranges";
    SERIALS_EXHAUSTED = 3045, "units", Permanent, "the registry's serial numbers would overflow";
    VINTAGE_RULE = 3046, "units", Permanent, "the vintage does not follow the unit kind's vintage rule or the period straddle policy";
    CURRENCY_UNKNOWN = 3050, "cash", Permanent, "currency is not defined in this registry";
    CASH_INSUFFICIENT = 3051, "cash", Permanent, "cash available in the account is insufficient";
    AMOUNT_INVALID = 3052, "cash", Permanent, "amount must be a positive whole number of minor units";
    UNITS_NOT_AUTHORIZED = 3060, "units", Permanent, "units hosted by another party cannot be used towards this party's NDC until an authorization covers them";
    CERTIFICATE_EXPIRED = 3061, "units", Permanent, "the certificates are past their validity and cannot be surrendered";
    TRANSFER_UNKNOWN = 4501, "state", Permanent, "transfer id is not known here";
    MESSAGE_NOT_VALID_IN_STATE = 4502, "state", Permanent, "message or command not valid in the transfer's current state";
    DECISION_CONFLICT = 4503, "state", Permanent, "decision conflicts with the local record (alarm: manual intervention)";
    PROPOSE_AFTER_ABORT = 4504, "state", Permanent, "proposal arrived after an abort tombstone";
    HOLD_UNKNOWN = 4505, "state", Permanent, "hold does not exist";
    HOLD_ID_EXISTS = 4506, "state", Permanent, "a hold with this id exists";
    HOLD_PART_EXCEEDS = 4507, "state", Permanent, "the part named is not under this hold";
    HOLD_NEEDS_DECISION = 4508, "state", Permanent, "a cross-registry hold is released only by its transfer's decision, and only local holds expire";
    CORRECTION_TARGET_INVALID = 4509, "state", Permanent, "the cited entry is not an issuance or transfer of this chain";
    CORRECTION_UNITS_MOVED = 4510, "state", Permanent, "units are no longer where the cited entry put them";
    ALREADY_EXISTS = 4520, "state", Permanent, "an entity with this id or code already exists";
    HOLDER_UNKNOWN = 4521, "state", Permanent, "holder does not exist";
    ACCOUNT_KIND_UNKNOWN = 4522, "state", Permanent, "account kind is not defined in this registry";
    CITATION_INVALID = 4523, "state", Permanent, "the cited entry does not exist with that hash";
    BUSINESS_KEY_USED = 4524, "state", Permanent, "this effect already happened (business key used)";
    CHAIN_NOT_OPENED = 4525, "state", Permanent, "the chain has not been opened";
    CHAIN_ALREADY_OPENED = 4526, "state", Permanent, "the chain is already open";
    LEG_NOT_ALLOWED = 4527, "state", Permanent, "this command cannot be a leg of a multi-leg command";
    ACCOUNT_NOT_EMPTY = 4528, "state", Permanent, "an account that holds units or cash cannot be closed";
    CHAIN_NOT_HOSTED = 6005, "envelope", Permanent, "this node does not host that chain";
    MALFORMED_COMMAND = 6006, "envelope", Permanent, "command is undecodable or violates the schema";
    AUTHENTICATION_REQUIRED = 6101, "api", Permanent, "a valid bearer token (or user and password) is required";
    PERMISSION_DENIED = 6102, "api", Permanent, "the user's roles and scopes do not allow this request";
    IDEMPOTENCY_KEY_MISMATCH = 6103, "api", Permanent, "the Idempotency-Key header and the command id differ";
    REQUEST_TOO_LARGE = 6104, "api", Permanent, "the request body exceeds the size limit";
    RATE_LIMITED = 6105, "api", Transient, "too many requests from this client; retry later";
    NOT_FOUND = 6106, "api", Permanent, "no such resource";
    ACTOR_MISMATCH = 6107, "api", Permanent, "the command's actor is not the authenticated user";
    OUTSIDE_TRUSTED_LIST = 6108, "api", Permanent, "the acquiring account is not on the transferring account's trusted list, or is still in its delay";
    APPROVAL_NOT_PENDING = 6109, "api", Permanent, "no pending request with this id";
    OWN_REQUEST = 6110, "api", Permanent, "a request needs a second person: its maker cannot approve it";
    INVALID_REQUEST = 6111, "api", Permanent, "request parameters or body violate the schema";
    METHOD_NOT_ALLOWED = 6112, "api", Permanent, "this resource does not support the method";
    STORAGE_UNAVAILABLE = 7001, "storage", Transient, "storage is unavailable; retry the same command";
    WRITER_FENCED = 7002, "storage", Transient, "this node is no longer the writer; retry at the current writer";
    ROLE_REQUIRED = 8001, "mechanism", Permanent, "the actor does not hold the role this step requires";
    PARTY_NOT_IN_MECHANISM = 8002, "mechanism", Permanent, "the party is not a party to this mechanism";
    MOTION_UNKNOWN = 8003, "mechanism", Permanent, "no open motion with this decision id";
    SAME_SIDE_CONCURRENCE = 8004, "mechanism", Permanent, "a decision needs a member of each side: this side has already approved it";
    DECISION_NOT_ADOPTED = 8005, "mechanism", Permanent, "the decision has not been adopted by both sides";
    NOT_A_NOTIFIED_ISSUANCE = 8006, "mechanism", Permanent, "the cited entry is not a notified issuance with a share for this registry";
    METHODOLOGY_UNKNOWN = 8010, "mechanism", Permanent, "no executable methodology with this code and version";
    METHODOLOGY_NOT_APPROVED = 8011, "mechanism", Permanent, "the methodology version is not approved";
    STEP_NOT_VALID_IN_STATE = 8012, "mechanism", Permanent, "this step is not valid in the methodology's, project's or period's current state";
    PUBLIC_INPUT_NOT_OVER = 8013, "mechanism", Permanent, "the public input period has not run its full length";
    PROJECT_UNKNOWN = 8014, "mechanism", Permanent, "no project with this id";
    PARAMETER_MISSING = 8020, "mechanism", Permanent, "a parameter the methodology needs has no value";
    PARAMETER_UNKNOWN = 8021, "mechanism", Permanent, "the methodology has no parameter of this name, or it is given at the wrong stage";
    PARAMETER_INVALID = 8022, "mechanism", Permanent, "a parameter value is negative or out of range";
    CRITERIA_NOT_MET = 8023, "mechanism", Permanent, "an eligibility criterion of the methodology is not affirmed";
    ALLOCATION_INVALID = 8024, "mechanism", Permanent, "credit allocation percentages must be positive, distinct and sum to exactly 100, with a designated remainder share";
    PERIOD_OUTSIDE_CREDITING = 8030, "mechanism", Permanent, "the monitoring period lies outside the crediting period";
    PERIOD_OVERLAPS = 8031, "mechanism", Permanent, "the monitoring period overlaps one already reported";
    PERIOD_ALREADY_ISSUED = 8032, "mechanism", Permanent, "this monitoring period already has an issuance decided or pending";
    EXCEEDS_VERIFIED = 8033, "mechanism", Permanent, "the quantity exceeds the verified amount";
    VERIFIED_EXCEEDS_COMPUTED = 8034, "mechanism", Permanent, "the verified amount exceeds the reductions computed from the monitoring report";
    ACTIVITY_NOT_ELIGIBLE = 8035, "mechanism", Permanent, "the activity is not on the host party's Article 6.2 activity list";
    CA_UNKNOWN = 8501, "article 6", Permanent, "the cooperative approach is not registered by this party";
    INITIAL_REPORT_MISSING = 8502, "article 6", Permanent, "no authorization or first transfer before the party's initial report is recorded (policy)";
    INITIAL_REPORT_INCOMPLETE = 8503, "article 6", Permanent, "the initial report lacks required contents (NDC quantification, safeguards, sustainable development, human rights, entities)";
    AUTHORIZATION_UNKNOWN = 8504, "article 6", Permanent, "no such authorization (or version) of the first transferring party";
    AUTHORIZATION_VERSION = 8505, "article 6", Permanent, "an authorization changes only by its next version";
    VINTAGE_NOT_AUTHORIZABLE = 8506, "article 6", Permanent, "the vintage is before 2021 or outside the authorized timeframe";
    AUTHORIZED_QUANTITY_EXCEEDED = 8507, "article 6", Permanent, "the quantity exceeds what the authorization leaves";
    ALREADY_FIRST_TRANSFERRED = 8508, "article 6", Permanent, "units already first transferred keep the authorization version they were first transferred under";
    PURPOSE_NOT_AUTHORIZED = 8509, "article 6", Permanent, "the units are not authorized for this purpose";
    PARTY_NOT_AUTHORIZED = 8510, "article 6", Permanent, "the acquiring or using party or entity is not authorized";
    METRIC_UNSUPPORTED = 8511, "article 6", Permanent, "non-GHG metrics need metric-specific accounts and a conversion, not supported for this NDC";
    ADJUSTMENT_STATE = 8512, "article 6", Permanent, "this step is not valid in the adjustment record's state";
    PERIOD_FINALIZED = 8513, "article 6", Permanent, "the period's adjustments are final";
    DATA_MISSING = 8514, "article 6", Permanent, "a check or balance cannot be computed: data is missing (it does not pass)";
    USE_YEAR_INVALID = 8515, "article 6", Permanent, "the year of use is outside the NDC implementation period";
    NOT_ARTICLE6_ELIGIBLE = 8516, "article 6", Permanent, "the units' project is not eligible for Article 6.2 authorization";
    NDC_UNKNOWN = 8517, "article 6", Permanent, "the party has not recorded its NDC";
    CHECK_FIRST_TRANSFER_ABOVE_AUTHORIZED = 8601, "consistency", Permanent, "first transfers exceed the authorized quantity";
    CHECK_HOLDINGS_IDENTITY = 8602, "consistency", Permanent, "holdings at 31 December do not equal last year's plus acquisitions minus transfers, uses and cancellations";
    CHECK_SERIAL_TWICE = 8603, "consistency", Permanent, "a serial appears in two holdings rows";
    CHECK_USED_TWICE = 8604, "consistency", Permanent, "a block is used or cancelled twice";
    CHECK_ROW_WITHOUT_AUTHORIZATION = 8605, "consistency", Permanent, "an action or holdings row has no authorization row";
    CHECK_UNAUTHORIZED_FIRST_TRANSFER = 8606, "consistency", Permanent, "units were first transferred without an authorization";
    CHECK_VINTAGE_MISMATCH = 8607, "consistency", Permanent, "vintage or metric disagrees with the authorization";
}

impl Code {
    /// The catalogue row, if the code is in the catalogue.
    pub fn def(self) -> Option<&'static CheckDef> {
        CATALOGUE
            .binary_search_by_key(&self, |d| d.code)
            .ok()
            .map(|i| &CATALOGUE[i])
    }
    pub fn is_permanent(self) -> bool {
        self.def().is_none_or(|d| d.class == Class::Permanent)
    }
    pub fn name(self) -> &'static str {
        self.def().map_or("UNKNOWN", |d| d.name)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One failing check with a message that names the thing at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: Code,
    pub message: String,
}

/// A rejection: every failing check, in the order found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rejected: {}", self.failures.iter().map(|f| format!("{} {}", f.code, f.message)).collect::<Vec<_>>().join("; "))]
pub struct Rejection {
    pub failures: Vec<Failure>,
}

impl Rejection {
    pub fn one(code: Code, message: impl Into<String>) -> Self {
        Rejection {
            failures: vec![Failure {
                code,
                message: message.into(),
            }],
        }
    }
    pub fn codes(&self) -> Vec<Code> {
        self.failures.iter().map(|f| f.code).collect()
    }
    /// Permanent unless every failure is transient.
    pub fn is_permanent(&self) -> bool {
        self.failures.iter().any(|f| f.code.is_permanent())
    }
}

impl From<Code> for Rejection {
    fn from(code: Code) -> Self {
        Rejection::one(code, code.def().map_or("", |d| d.text))
    }
}

/// Collects every failing check of a command before answering.
#[derive(Default)]
pub struct Checks {
    failures: Vec<Failure>,
}

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }
    /// Records a failure unless `ok`.
    pub fn require(&mut self, ok: bool, code: Code, message: impl FnOnce() -> String) -> bool {
        if !ok {
            self.fail(code, message());
        }
        ok
    }
    pub fn fail(&mut self, code: Code, message: impl Into<String>) {
        if !self.failures.iter().any(|f| f.code == code) {
            self.failures.push(Failure {
                code,
                message: message.into(),
            });
        }
    }
    pub fn absorb<T>(&mut self, r: Result<T, Rejection>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(rej) => {
                for f in rej.failures {
                    self.fail(f.code, f.message);
                }
                None
            }
        }
    }
    pub fn is_clean(&self) -> bool {
        self.failures.is_empty()
    }
    pub fn finish(self) -> Result<(), Rejection> {
        if self.failures.is_empty() {
            Ok(())
        } else {
            Err(Rejection {
                failures: self.failures,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_sorted_and_unique() {
        for w in CATALOGUE.windows(2) {
            assert!(w[0].code < w[1].code, "{} before {}", w[0].code, w[1].code);
        }
    }

    #[test]
    fn codes_know_their_class() {
        assert!(Code::UNITS_HELD.is_permanent());
        assert!(!Code::STORAGE_UNAVAILABLE.is_permanent());
        assert_eq!(Code(9999).def().map(|d| d.code), None);
    }
}
