//! The domain's value types: unit attributes and labels, account and hold kinds, policies,
//! commands and events. Events are the only thing the journal stores; commands are what
//! callers ask for. Neither knows JSON or SQL.

use crate::ids::*;
use crate::units::*;

/// How a unit kind's vintage is derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VintageRule {
    /// The calendar year of the mitigation (JCM credits, ITMOs). A period that straddles years
    /// is split at issuance by the registry's straddle policy.
    CalendarYear,
    /// A compliance year named at issuance (CCCs).
    ComplianceYear,
}

/// Named policy: how an issuance whose mitigation period straddles calendar years is split
/// into vintages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StraddlePolicy {
    /// Default. Each year gets floor(quantity × days in year ÷ days in period); the remainder
    /// goes to the last year.
    ProRataDaysRemainderLast,
    /// Refuse periods that straddle years (3046): the issuer splits them.
    Refuse,
}

/// What an account kind is for. Kinds themselves are data (`AccountKindDefined`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountClass {
    /// Holds units that can move (party holding, entity holding).
    Holding,
    /// Receives issuances before they are distributed.
    PendingIssuance,
    /// Receives units whose acquiring account could not take them (link suspense).
    Suspense,
    /// Terminal: retirement (use). Units never leave.
    Retirement,
    /// Terminal: voluntary cancellation. Units never leave.
    VoluntaryCancellation,
    /// Terminal: cancellation for overall mitigation in global emissions. Units never leave.
    OmgeCancellation,
    /// Terminal: surrender for compliance. Units never leave.
    Surrender,
    /// Terminal: certificates past their validity. Units never leave.
    Expired,
}

impl AccountClass {
    /// Units in a terminal account never move again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            AccountClass::Retirement
                | AccountClass::VoluntaryCancellation
                | AccountClass::OmgeCancellation
                | AccountClass::Surrender
                | AccountClass::Expired
        )
    }
    /// Can receive an ordinary transfer or an issuance.
    pub fn can_receive_transfer(self) -> bool {
        matches!(
            self,
            AccountClass::Holding | AccountClass::PendingIssuance | AccountClass::Suspense
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountStatus {
    Open,
    Frozen,
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CancellationKind {
    Voluntary,
    Omge,
}

/// Who a hold belongs to. The first three are transferring holds (at most one per unit);
/// freezes overlay them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HoldKind {
    LocalPendingTransfer,
    MarketOrder,
    CrossRegistryTransfer,
    ReconciliationFreeze,
    LegalFreeze,
}

impl HoldKind {
    pub fn is_transferring(self) -> bool {
        matches!(
            self,
            HoldKind::LocalPendingTransfer
                | HoldKind::MarketOrder
                | HoldKind::CrossRegistryTransfer
        )
    }
    /// Only local transferring holds expire (by a journaled command carrying the time).
    pub fn expires(self) -> bool {
        matches!(self, HoldKind::LocalPendingTransfer | HoldKind::MarketOrder)
    }
}

/// Adjustment status label of a unit (Article 6.2 corresponding adjustments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AdjustmentStatus {
    NotApplicable,
    Pending,
    Applied,
}

/// The authorization version that covers a unit.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuthorizationRef {
    pub party: PartyId,
    pub authorization: DecisionId,
    pub version: u32,
}

/// Labels change over a unit's life, only through events naming exact serial ranges; a split
/// copies them exactly.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels {
    pub authorization: Option<AuthorizationRef>,
    pub first_transferred: bool,
    pub adjustment: AdjustmentStatus,
}

impl Default for Labels {
    fn default() -> Self {
        Labels {
            authorization: None,
            first_transferred: false,
            adjustment: AdjustmentStatus::NotApplicable,
        }
    }
}

/// Immutable attributes of a block, fixed at issuance.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitAttributes {
    pub issuing: RegistryId,
    pub kind: UnitKindCode,
    pub project: Option<ProjectId>,
    pub period: MitigationPeriod,
    pub vintage: Vintage,
}

/// Serial ranges of one issuing registry, as named in events and commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IssuedRange {
    pub issuing: RegistryId,
    pub range: SerialRange,
}

/// Which units a command means: a quantity from one set (ascending serial order), or exact
/// ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnitSelection {
    Quantity {
        quantity: Quantity,
        filter: SetFilter,
    },
    Ranges(Vec<IssuedRange>),
}

/// Narrows the sets an account holds to exactly one. Unnamed fields match anything.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SetFilter {
    pub kind: Option<UnitKindCode>,
    pub issuing: Option<RegistryId>,
    pub project: Option<ProjectId>,
    pub vintage: Option<Vintage>,
    pub labels: Option<Labels>,
}

/// What a hold covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldTarget {
    Units(UnitSelection),
    Cash {
        currency: CurrencyCode,
        amount: Money,
    },
}

/// A part of a hold, for release or posting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldPart {
    All,
    Ranges(Vec<IssuedRange>),
    Cash(Money),
}

/// Held asset as recorded in events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeldAsset {
    Units(Vec<IssuedRange>),
    Cash {
        currency: CurrencyCode,
        amount: Money,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReleaseCause {
    Request,
    Expiry,
    /// The decision of a cross-registry transfer (or another chain's decision).
    Decision(Citation),
}

/// An entry cited for correction, resolved by the engine: its events as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CitedEntry {
    pub seq: u64,
    pub hash: [u8; 32],
    pub events: Vec<Event>,
}

/// Everything a caller can ask a chain to do. Personal text arrives already replaced by
/// salted hashes (`PersonalRef`); the edge keeps the text in the side store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    // Genesis and policy.
    OpenRegistry {
        registry: RegistryId,
        straddle: StraddlePolicy,
    },
    SetStraddlePolicy(StraddlePolicy),
    OpenMechanism {
        mechanism: MechanismId,
        parties: Vec<PartyId>,
    },
    OpenPartyAuthority {
        party: PartyId,
    },
    RecordDecision {
        decision: DecisionId,
        kind: DecisionId,
        document: Option<[u8; 32]>,
    },
    // Reference data.
    DefineUnitKind {
        code: UnitKindCode,
        has_project: bool,
        vintage_rule: VintageRule,
    },
    DefineAccountKind {
        code: AccountKindCode,
        class: AccountClass,
    },
    DefineCurrency {
        code: CurrencyCode,
        minor_units: u8,
    },
    RegisterHolder {
        holder: HolderId,
        kind: HolderKind,
        name: PersonalRef,
    },
    OpenAccount {
        account: AccountId,
        holder: HolderId,
        kind: AccountKindCode,
    },
    SetAccountStatus {
        account: AccountId,
        status: AccountStatus,
    },
    // Units.
    Issue {
        account: AccountId,
        kind: UnitKindCode,
        project: Option<ProjectId>,
        period: MitigationPeriod,
        /// Required for compliance-year kinds; for calendar-year kinds, if given, must equal
        /// the derived year.
        vintage: Option<Vintage>,
        quantity: Quantity,
        /// Underlying unit id of the first serial (e.g. the JCM credit serial); defaults to
        /// the serial itself.
        unit_start: Option<u64>,
        citation: Option<Citation>,
        business_key: Option<BusinessKey>,
    },
    Transfer {
        from: AccountId,
        to: AccountId,
        units: UnitSelection,
    },
    Retire {
        from: AccountId,
        to: AccountId,
        units: UnitSelection,
        purpose: PurposeCode,
        beneficiary: Option<HolderId>,
        beneficiary_name: Option<PersonalRef>,
        note: Option<PersonalRef>,
    },
    Cancel {
        from: AccountId,
        to: AccountId,
        units: UnitSelection,
        kind: CancellationKind,
        note: Option<PersonalRef>,
    },
    SetLabels {
        ranges: Vec<IssuedRange>,
        labels: Labels,
        citation: Option<Citation>,
    },
    // Holds.
    PlaceHold {
        hold: HoldId,
        kind: HoldKind,
        account: AccountId,
        target: HoldTarget,
        expires_at: Option<Timestamp>,
    },
    ReleaseHold {
        hold: HoldId,
        part: HoldPart,
        decision: Option<Citation>,
    },
    PostHold {
        hold: HoldId,
        to: AccountId,
        part: HoldPart,
    },
    ExpireHolds {
        now: Timestamp,
    },
    // Cash.
    DepositCash {
        account: AccountId,
        currency: CurrencyCode,
        amount: Money,
    },
    WithdrawCash {
        account: AccountId,
        currency: CurrencyCode,
        amount: Money,
    },
    TransferCash {
        from: AccountId,
        to: AccountId,
        currency: CurrencyCode,
        amount: Money,
    },
    // Corrections and composition.
    Correct {
        target: CitedEntry,
        note: Option<PersonalRef>,
    },
    /// Several legs applied all or nothing, in one entry (e.g. delivery versus payment).
    MultiLeg(Vec<Command>),
    // The link between registries (`link.rs`).
    /// Proposes units to another registry: reserves them under a cross-registry hold.
    TransferOut {
        from: AccountId,
        to_registry: RegistryId,
        to_account: AccountId,
        units: UnitSelection,
        /// `T_accept`: the coordinator aborts (status 7) if no answer is received by then.
        decide_by: Timestamp,
    },
    /// Takes in one message from another registry (the inbox).
    ReceiveLink(crate::link::Envelope),
    /// Aborts proposed transfers whose `decide_by` has passed (the coordinator's timer).
    ExpireTransfers {
        now: Timestamp,
    },
    /// An operator's cancel of a proposed transfer, effective only before a decision.
    CancelTransfer {
        transfer_id: crate::link::TransferId,
    },
    /// Where units go that arrive for an account closed after acceptance.
    SetSuspenseAccount {
        account: AccountId,
    },
    // The JCM project cycle (`jcm`).
    /// A step of the JCM cycle, on a mechanism chain.
    Jcm(crate::jcm::JcmCommand),
    /// A step on the CCTS administrator's chain.
    Ccts(crate::ccts::CctsCommand),
    /// Issues the certificates of an evaluated surplus (the cited entry on the CCTS chain),
    /// once per entity and year.
    IssueCertificates {
        citation: Citation,
        /// Filled in by the engine.
        cited: Option<CitedEntry>,
    },
    /// Surrenders certificates towards an entity's obligation for a compliance year.
    SurrenderCertificates {
        from: AccountId,
        to: AccountId,
        units: UnitSelection,
        entity: ProjectId,
        year: u16,
    },
    /// Moves every certificate past its validity to `to` (an expired account).
    ExpireCertificates {
        now: Timestamp,
        to: AccountId,
    },
    /// Named policy: compliance years a certificate stays valid after its own (default 3).
    SetCertificateValidity {
        years: u16,
    },
    /// A step on a party's authority chain (Article 6.2).
    A6(Box<crate::article6::authority::A6Command>),
    /// Applies a party's authorization (the cited entry on its authority chain) to units of
    /// an account: they become covered by that version; for units hosted by another party,
    /// or OIMP-only units whose first transfer is the authorization, this is their first
    /// transfer.
    ApplyAuthorization {
        citation: Citation,
        /// Filled in by the engine.
        cited: Option<CitedEntry>,
        account: AccountId,
        units: UnitSelection,
    },
    /// Retires authorized units towards this party's NDC for a year (para 8(b)).
    UseTowardsNdc {
        from: AccountId,
        to: AccountId,
        units: UnitSelection,
        year: u16,
        beneficiary: Option<HolderId>,
    },
    /// Issues this registry's lines of a notified JCM issuance, citing the notification
    /// entry on the mechanism chain; at most once per decision and registry.
    IssueFromDecision {
        citation: Citation,
        /// The cited entry's events, filled in by the engine (never by the caller).
        cited: Option<CitedEntry>,
    },
}

impl Command {
    /// Short snake_case name, as in the wire format and the docs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::OpenRegistry { .. } => "open_registry",
            Command::SetStraddlePolicy(_) => "set_straddle_policy",
            Command::OpenMechanism { .. } => "open_mechanism",
            Command::OpenPartyAuthority { .. } => "open_party_authority",
            Command::RecordDecision { .. } => "record_decision",
            Command::DefineUnitKind { .. } => "define_unit_kind",
            Command::DefineAccountKind { .. } => "define_account_kind",
            Command::DefineCurrency { .. } => "define_currency",
            Command::RegisterHolder { .. } => "register_holder",
            Command::OpenAccount { .. } => "open_account",
            Command::SetAccountStatus { .. } => "set_account_status",
            Command::Issue { .. } => "issue",
            Command::Transfer { .. } => "transfer",
            Command::Retire { .. } => "retire",
            Command::Cancel { .. } => "cancel",
            Command::SetLabels { .. } => "set_labels",
            Command::PlaceHold { .. } => "place_hold",
            Command::ReleaseHold { .. } => "release_hold",
            Command::PostHold { .. } => "post_hold",
            Command::ExpireHolds { .. } => "expire_holds",
            Command::DepositCash { .. } => "deposit_cash",
            Command::WithdrawCash { .. } => "withdraw_cash",
            Command::TransferCash { .. } => "transfer_cash",
            Command::Correct { .. } => "correct",
            Command::MultiLeg(_) => "multi_leg",
            Command::TransferOut { .. } => "transfer_out",
            Command::ReceiveLink(_) => "receive_link",
            Command::ExpireTransfers { .. } => "expire_transfers",
            Command::CancelTransfer { .. } => "cancel_transfer",
            Command::SetSuspenseAccount { .. } => "set_suspense_account",
            Command::Jcm(c) => c.name(),
            Command::A6(c) => c.name(),
            Command::Ccts(c) => c.name(),
            Command::IssueCertificates { .. } => "issue_certificates",
            Command::SurrenderCertificates { .. } => "surrender_certificates",
            Command::ExpireCertificates { .. } => "expire_certificates",
            Command::SetCertificateValidity { .. } => "set_certificate_validity",
            Command::ApplyAuthorization { .. } => "apply_authorization",
            Command::UseTowardsNdc { .. } => "use_towards_ndc",
            Command::IssueFromDecision { .. } => "issue_from_decision",
        }
    }
}

/// What happened. Versioned through the entry's format version; each variant's encoding is
/// documented in `encode.rs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    RegistryOpened {
        registry: RegistryId,
        straddle: StraddlePolicy,
    },
    StraddlePolicySet(StraddlePolicy),
    MechanismOpened {
        mechanism: MechanismId,
        parties: Vec<PartyId>,
    },
    PartyAuthorityOpened {
        party: PartyId,
    },
    DecisionRecorded {
        decision: DecisionId,
        kind: DecisionId,
        document: Option<[u8; 32]>,
    },
    UnitKindDefined {
        code: UnitKindCode,
        has_project: bool,
        vintage_rule: VintageRule,
    },
    AccountKindDefined {
        code: AccountKindCode,
        class: AccountClass,
    },
    CurrencyDefined {
        code: CurrencyCode,
        minor_units: u8,
    },
    HolderRegistered {
        holder: HolderId,
        kind: HolderKind,
        name: PersonalRef,
    },
    AccountOpened {
        account: AccountId,
        holder: HolderId,
        kind: AccountKindCode,
    },
    AccountStatusSet {
        account: AccountId,
        status: AccountStatus,
    },
    Issued {
        account: AccountId,
        attributes: UnitAttributes,
        range: SerialRange,
        unit_start: u64,
        citation: Option<Citation>,
        business_key: Option<BusinessKey>,
    },
    Transferred {
        from: AccountId,
        to: AccountId,
        ranges: Vec<IssuedRange>,
    },
    Retired {
        from: AccountId,
        to: AccountId,
        ranges: Vec<IssuedRange>,
        purpose: PurposeCode,
        beneficiary: Option<HolderId>,
        beneficiary_name: Option<PersonalRef>,
        note: Option<PersonalRef>,
    },
    Cancelled {
        from: AccountId,
        to: AccountId,
        ranges: Vec<IssuedRange>,
        kind: CancellationKind,
        note: Option<PersonalRef>,
    },
    LabelsSet {
        ranges: Vec<IssuedRange>,
        labels: Labels,
        citation: Option<Citation>,
    },
    HoldPlaced {
        hold: HoldId,
        kind: HoldKind,
        account: AccountId,
        asset: HeldAsset,
        expires_at: Option<Timestamp>,
    },
    HoldReleased {
        hold: HoldId,
        asset: HeldAsset,
        cause: ReleaseCause,
    },
    HoldPosted {
        hold: HoldId,
        to: AccountId,
        asset: HeldAsset,
    },
    CashDeposited {
        account: AccountId,
        currency: CurrencyCode,
        amount: Money,
    },
    CashWithdrawn {
        account: AccountId,
        currency: CurrencyCode,
        amount: Money,
    },
    CashTransferred {
        from: AccountId,
        to: AccountId,
        currency: CurrencyCode,
        amount: Money,
    },
    Corrected {
        seq: u64,
        hash: [u8; 32],
        note: Option<PersonalRef>,
    },
    IssuanceVoided {
        account: AccountId,
        ranges: Vec<IssuedRange>,
    },
    // The link (`link.rs`).
    TransferProposed {
        proposal: crate::link::Proposal,
        decide_by: Timestamp,
    },
    TransferDecided(crate::link::LinkDecision),
    TransferSettled {
        transfer_id: crate::link::TransferId,
    },
    InboundAccepted {
        proposal: crate::link::Proposal,
    },
    InboundRejected {
        transfer_id: crate::link::TransferId,
        from: RegistryId,
        propose_hash: [u8; 32],
        codes: Vec<crate::checks::Code>,
    },
    InboundCommitted {
        transfer_id: crate::link::TransferId,
        account: AccountId,
        decision: crate::link::LinkDecision,
    },
    InboundAborted {
        transfer_id: crate::link::TransferId,
        from: RegistryId,
        decision: crate::link::LinkDecision,
    },
    LinkAlarm {
        transfer_id: crate::link::TransferId,
        code: crate::checks::Code,
    },
    SuspenseAccountSet {
        account: AccountId,
    },
    /// The host party of a project whose credits this registry issued under a mechanism
    /// decision; with the mechanism's foreign-issuance policy.
    ProjectHostRecorded {
        project: ProjectId,
        host: PartyId,
        foreign: crate::jcm::ForeignIssuance,
        /// Whether the project's credits may be authorized under Article 6.2.
        eligible: bool,
    },
    /// A step on a party's authority chain.
    A6(Box<crate::article6::authority::A6Event>),
    /// A step on the CCTS administrator's chain.
    Ccts(crate::ccts::CctsEvent),
    Surrendered {
        from: AccountId,
        to: AccountId,
        ranges: Vec<IssuedRange>,
        entity: ProjectId,
        year: u16,
    },
    CertificatesExpired {
        from: AccountId,
        to: AccountId,
        ranges: Vec<IssuedRange>,
    },
    CertificateValiditySet {
        years: u16,
    },
    /// The first time this registry applies an authorization version: what it allows.
    AuthorizationApplied {
        authorization: AuthorizationRef,
        ca: crate::article6::itmo::CaId,
        purposes: crate::article6::authority::Purposes,
        parties: Vec<PartyId>,
    },
    /// The year for which retired units are used towards the NDC.
    UseYearRecorded {
        ranges: Vec<IssuedRange>,
        year: u16,
    },
    /// A step of the JCM cycle (`jcm`).
    Jcm(crate::jcm::JcmEvent),
}

impl Event {
    /// Serial ranges this event touches, for the history index.
    pub fn ranges(&self) -> Vec<IssuedRange> {
        match self {
            Event::Issued {
                attributes, range, ..
            } => vec![IssuedRange {
                issuing: attributes.issuing,
                range: *range,
            }],
            Event::TransferProposed { proposal, .. } | Event::InboundAccepted { proposal } => {
                proposal.ranges()
            }
            Event::UseYearRecorded { ranges, .. }
            | Event::Surrendered { ranges, .. }
            | Event::CertificatesExpired { ranges, .. } => ranges.clone(),
            Event::Transferred { ranges, .. }
            | Event::Retired { ranges, .. }
            | Event::Cancelled { ranges, .. }
            | Event::LabelsSet { ranges, .. }
            | Event::IssuanceVoided { ranges, .. } => ranges.clone(),
            Event::HoldPlaced { asset, .. }
            | Event::HoldReleased { asset, .. }
            | Event::HoldPosted { asset, .. } => match asset {
                HeldAsset::Units(r) => r.clone(),
                HeldAsset::Cash { .. } => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
}
