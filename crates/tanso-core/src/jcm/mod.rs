//! The Joint Crediting Mechanism's project cycle (REFERENCE §3), as the state of a mechanism
//! chain: roles, methodologies (executable, versioned: `methodology.rs`), projects from idea
//! note to registration, monitoring periods from report to notified issuance, and the Joint
//! Committee's decisions, which need a member of each side.
//!
//! Every step is a `JcmCommand` checked against the actor's role; every event names who did
//! it (`by`), and the entry's time says when. The Committee's issuance decision is recorded
//! once, here; the secretariat's notification lists each registry's share (`IssuanceLine`),
//! and each registry issues its lines by a command in its own chain citing the notification
//! (`Command::IssueFromDecision`), at most once per decision and registry (a business key).

pub mod allocation;
pub mod methodologies;
pub mod methodology;

use crate::checks::{Checks, Code, Rejection};
use crate::encode::{bad, get_dec, get_doc, put_dec, put_doc, tok, Dec, Enc, R as DR};
use crate::ids::*;
use crate::model::StraddlePolicy;
use crate::units::*;
use allocation::Share;
use methodology::{Decimal, Params, Rounding};
use std::collections::{BTreeMap, BTreeSet};

type R<T> = Result<T, Rejection>;

fn rej(code: Code, msg: impl Into<String>) -> Rejection {
    Rejection::one(code, msg)
}

/// What an actor may do on a mechanism chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// A Joint Committee member representing one party's government.
    Member(PartyId),
    /// The Committee's secretariat: completeness checks, public input, notifications.
    Secretariat,
    /// A Third-Party Entity designated by the Committee: validation and verification.
    Tpe,
    /// A project participant from one party.
    Participant(PartyId),
}

impl Role {
    pub fn name(&self) -> String {
        match self {
            Role::Member(p) => format!("member:{p}"),
            Role::Secretariat => "secretariat".into(),
            Role::Tpe => "tpe".into(),
            Role::Participant(p) => format!("participant:{p}"),
        }
    }
}

/// A document (PDD, report, request form) by its SHA-256 and size. The bytes and their
/// metadata live in the node's document store; the chain carries only this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocRef {
    pub hash: [u8; 32],
    pub size: u64,
}

/// Named policy: what happens to a project whose activity is not on its host party's
/// Article 6.2 activity list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OutsideListAtRegistration {
    /// Default: register, but flag the project (8035) and mark its credits as not eligible
    /// for Article 6.2 authorization.
    Warn,
    /// Refuse the registration decision (8035).
    Block,
}

/// Named policy: whether credits of a project outside the host's list may be authorized
/// under Article 6.2 (read by the party authority's authorization).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OutsideListAuthorization {
    /// Default.
    Block,
    Allow,
}

/// Named policy: how credits of a project hosted by one party arrive in the other party's
/// registry at issuance (an international movement).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ForeignIssuance {
    /// Default: they arrive "not yet authorized" and cannot be used towards the receiving
    /// party's NDC (3060) until the host's authorization covers them; recording that
    /// coverage counts as their first transfer.
    NotYetAuthorized,
    /// No Article 6.2 gate (a mechanism outside Article 6.2).
    Unrestricted,
}

/// Named policy: which share receives the allocation's remainder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RemainderPolicy {
    /// Default: the share the credit allocation form designates.
    DesignatedShare,
    /// The first of the shares with the largest percentage.
    LargestShare,
}

/// The mechanism's named policies, each with the documented default (REFERENCE §7 lists the
/// rules that are unconfirmed). The Committee changes them by a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JcmPolicy {
    /// Rounding of a period's emission reductions to whole credits (default floor, §3.6 [U]).
    pub rounding: Rounding,
    /// Public input on a proposed methodology, in days (§3.3: 15).
    pub methodology_public_input_days: u32,
    /// Public input on a PDD, in days (§3.3: duration [U]; default 30).
    pub pdd_public_input_days: u32,
    pub outside_list_registration: OutsideListAtRegistration,
    pub outside_list_authorization: OutsideListAuthorization,
    /// How a monitoring period that straddles calendar years is apportioned to vintages.
    pub straddle: StraddlePolicy,
    pub foreign_issuance: ForeignIssuance,
    pub remainder: RemainderPolicy,
}

impl Default for JcmPolicy {
    fn default() -> Self {
        JcmPolicy {
            rounding: Rounding::Floor,
            methodology_public_input_days: 15,
            pdd_public_input_days: 30,
            outside_list_registration: OutsideListAtRegistration::Warn,
            outside_list_authorization: OutsideListAuthorization::Block,
            straddle: StraddlePolicy::ProRataDaysRemainderLast,
            foreign_issuance: ForeignIssuance::NotYetAuthorized,
            remainder: RemainderPolicy::DesignatedShare,
        }
    }
}

/// A methodology version: `IN_AM001` version 1.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MethodologyRef {
    pub code: String,
    pub version: u32,
}

impl std::fmt::Display for MethodologyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} v{}", self.code, self.version)
    }
}

/// What has public input: a proposed methodology or a PDD.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InputTarget {
    Methodology(MethodologyRef),
    Project(ProjectId),
}

/// A credit allocation (the Credit Allocation Form): shares and the remainder's share.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Allocation {
    pub shares: Vec<Share>,
    /// Index into `shares` of the share designated for the remainder.
    pub remainder_to: u32,
}

/// What the Joint Committee decides.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    ApproveMethodology(MethodologyRef),
    RejectMethodology(MethodologyRef),
    DesignateTpe(Actor),
    AppointMember {
        actor: Actor,
        party: PartyId,
    },
    /// A party's Article 6.2 activity list (§3.2), by activity number.
    SetActivityList {
        party: PartyId,
        activities: Vec<u16>,
    },
    SetPolicy(JcmPolicy),
    RegisterProject(ProjectId),
    RejectRegistration(ProjectId),
    ApproveChange(ProjectId),
    RenewCreditingPeriod {
        project: ProjectId,
        until: Date,
    },
    DecideIssuance {
        project: ProjectId,
        period_no: u32,
        quantity: u64,
    },
    RejectIssuance {
        project: ProjectId,
        period_no: u32,
    },
}

impl Subject {
    pub fn name(&self) -> &'static str {
        match self {
            Subject::ApproveMethodology(_) => "approve_methodology",
            Subject::RejectMethodology(_) => "reject_methodology",
            Subject::DesignateTpe(_) => "designate_tpe",
            Subject::AppointMember { .. } => "appoint_member",
            Subject::SetActivityList { .. } => "set_activity_list",
            Subject::SetPolicy(_) => "set_policy",
            Subject::RegisterProject(_) => "register_project",
            Subject::RejectRegistration(_) => "reject_registration",
            Subject::ApproveChange(_) => "approve_change",
            Subject::RenewCreditingPeriod { .. } => "renew_crediting_period",
            Subject::DecideIssuance { .. } => "decide_issuance",
            Subject::RejectIssuance { .. } => "reject_issuance",
        }
    }
}

/// A post-registration change: a new credit allocation and/or new ex-ante values.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Change {
    pub allocation: Option<Allocation>,
    pub ex_ante: Params,
}

/// One registry's share of a notified issuance, for one vintage.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IssuanceLine {
    pub registry: RegistryId,
    pub account: AccountId,
    /// The monitoring period clipped to the line's calendar year (its vintage).
    pub period: MitigationPeriod,
    pub quantity: u64,
    /// The project's JCM credit serial of the line's first unit.
    pub unit_start: u64,
}

/// Steps of the JCM cycle. Each names the role it needs in its documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JcmCommand {
    /// Members and the secretariat while the Committee is being constituted (until each
    /// party has a member; after that, members come by decision); participants by the
    /// secretariat. TPEs only by decision.
    Appoint {
        actor: Actor,
        role: Role,
    },
    /// Any role: a proposed methodology, which must exist as an executable module.
    SubmitMethodology {
        methodology: MethodologyRef,
        document: DocRef,
    },
    /// Secretariat: the completeness check; complete opens public input.
    CheckCompleteness {
        methodology: MethodologyRef,
        complete: bool,
    },
    /// Secretariat: closes public input once it has run its full length.
    ClosePublicInput {
        target: InputTarget,
    },
    /// Participant: the project idea note.
    SubmitPin {
        project: ProjectId,
        host: PartyId,
        activity: u16,
        participants: Vec<Actor>,
        document: DocRef,
    },
    /// Participant: the PDD (methodology version, monitoring plan, crediting period, credit
    /// allocation, criteria affirmed).
    SubmitPdd {
        project: ProjectId,
        methodology: MethodologyRef,
        ex_ante: Params,
        criteria: Vec<String>,
        crediting: MitigationPeriod,
        allocation: Allocation,
        document: DocRef,
    },
    /// Secretariat: opens the PDD's public input.
    OpenPddPublicInput {
        project: ProjectId,
    },
    /// TPE: the validation report (positive or negative).
    Validate {
        project: ProjectId,
        positive: bool,
        document: DocRef,
    },
    /// Participant: the registration request (with the MoC statement and allocation form).
    RequestRegistration {
        project: ProjectId,
        document: DocRef,
    },
    WithdrawRegistrationRequest {
        project: ProjectId,
    },
    /// Participant: a post-registration change, decided by the Committee.
    RequestChange {
        project: ProjectId,
        change: Change,
        document: DocRef,
    },
    /// Participant: renewal of the crediting period, decided by the Committee.
    RequestRenewal {
        project: ProjectId,
        until: Date,
        document: DocRef,
    },
    /// Participant: withdraws a registered project.
    WithdrawProject {
        project: ProjectId,
        document: DocRef,
    },
    /// Participant: a monitoring report; the methodology computes its reductions.
    ReportMonitoring {
        project: ProjectId,
        period_no: u32,
        period: MitigationPeriod,
        values: Params,
        document: DocRef,
    },
    /// TPE: the verification report with the verified amount.
    Verify {
        project: ProjectId,
        period_no: u32,
        amount: u64,
        document: DocRef,
    },
    /// Participant: the credits issuance request.
    RequestIssuance {
        project: ProjectId,
        period_no: u32,
        quantity: u64,
        document: DocRef,
    },
    WithdrawIssuanceRequest {
        project: ProjectId,
        period_no: u32,
    },
    /// Member: proposes a decision; counts as the proposer's side's approval.
    Propose {
        decision: DecisionId,
        subject: Subject,
    },
    /// Member of the other side: concurs; the decision is adopted when every side approved.
    Concur {
        decision: DecisionId,
    },
    /// Member: refuses; the motion closes without a decision.
    Refuse {
        decision: DecisionId,
    },
    /// Secretariat: notifies both sides of an adopted issuance decision, with the lines each
    /// registry issues.
    Notify {
        decision: DecisionId,
    },
}

impl JcmCommand {
    pub fn name(&self) -> &'static str {
        match self {
            JcmCommand::Appoint { .. } => "jcm_appoint",
            JcmCommand::SubmitMethodology { .. } => "jcm_submit_methodology",
            JcmCommand::CheckCompleteness { .. } => "jcm_check_completeness",
            JcmCommand::ClosePublicInput { .. } => "jcm_close_public_input",
            JcmCommand::SubmitPin { .. } => "jcm_submit_pin",
            JcmCommand::SubmitPdd { .. } => "jcm_submit_pdd",
            JcmCommand::OpenPddPublicInput { .. } => "jcm_open_pdd_public_input",
            JcmCommand::Validate { .. } => "jcm_validate",
            JcmCommand::RequestRegistration { .. } => "jcm_request_registration",
            JcmCommand::WithdrawRegistrationRequest { .. } => "jcm_withdraw_registration_request",
            JcmCommand::RequestChange { .. } => "jcm_request_change",
            JcmCommand::RequestRenewal { .. } => "jcm_request_renewal",
            JcmCommand::WithdrawProject { .. } => "jcm_withdraw_project",
            JcmCommand::ReportMonitoring { .. } => "jcm_report_monitoring",
            JcmCommand::Verify { .. } => "jcm_verify",
            JcmCommand::RequestIssuance { .. } => "jcm_request_issuance",
            JcmCommand::WithdrawIssuanceRequest { .. } => "jcm_withdraw_issuance_request",
            JcmCommand::Propose { .. } => "jcm_propose",
            JcmCommand::Concur { .. } => "jcm_concur",
            JcmCommand::Refuse { .. } => "jcm_refuse",
            JcmCommand::Notify { .. } => "jcm_notify",
        }
    }
}

/// What happened on a mechanism chain. Every event names who acted (`by`) where an actor
/// acted; the entry's time says when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JcmEvent {
    Appointed {
        actor: Actor,
        role: Role,
        by: Actor,
    },
    MethodologySubmitted {
        methodology: MethodologyRef,
        spec_hash: [u8; 32],
        document: DocRef,
        by: Actor,
    },
    CompletenessChecked {
        methodology: MethodologyRef,
        complete: bool,
        by: Actor,
    },
    PublicInputOpened {
        target: InputTarget,
        at: Timestamp,
        closes_not_before: Timestamp,
        by: Actor,
    },
    PublicInputClosed {
        target: InputTarget,
        by: Actor,
    },
    PinSubmitted {
        project: ProjectId,
        host: PartyId,
        activity: u16,
        participants: Vec<Actor>,
        document: DocRef,
        by: Actor,
    },
    PddSubmitted {
        project: ProjectId,
        methodology: MethodologyRef,
        ex_ante: Params,
        criteria: Vec<String>,
        crediting: MitigationPeriod,
        allocation: Allocation,
        document: DocRef,
        by: Actor,
    },
    Validated {
        project: ProjectId,
        positive: bool,
        document: DocRef,
        by: Actor,
    },
    RegistrationRequested {
        project: ProjectId,
        document: DocRef,
        by: Actor,
    },
    RegistrationRequestWithdrawn {
        project: ProjectId,
        by: Actor,
    },
    ChangeRequested {
        project: ProjectId,
        change: Change,
        document: DocRef,
        by: Actor,
    },
    RenewalRequested {
        project: ProjectId,
        until: Date,
        document: DocRef,
        by: Actor,
    },
    ProjectWithdrawn {
        project: ProjectId,
        document: DocRef,
        by: Actor,
    },
    MonitoringReported {
        project: ProjectId,
        period_no: u32,
        period: MitigationPeriod,
        /// Every value used (ex-ante, monitored and defaults).
        inputs: Params,
        re: Decimal,
        pe: Decimal,
        er: Decimal,
        credited: u64,
        document: DocRef,
        by: Actor,
    },
    Verified {
        project: ProjectId,
        period_no: u32,
        amount: u64,
        document: DocRef,
        by: Actor,
    },
    IssuanceRequested {
        project: ProjectId,
        period_no: u32,
        quantity: u64,
        document: DocRef,
        by: Actor,
    },
    IssuanceRequestWithdrawn {
        project: ProjectId,
        period_no: u32,
        by: Actor,
    },
    MotionProposed {
        decision: DecisionId,
        subject: Subject,
        party: PartyId,
        by: Actor,
    },
    MotionConcurred {
        decision: DecisionId,
        party: PartyId,
        by: Actor,
    },
    MotionRefused {
        decision: DecisionId,
        party: PartyId,
        by: Actor,
    },
    /// The decision is adopted: its effect applies.
    DecisionAdopted {
        decision: DecisionId,
    },
    /// A project outside its host's Article 6.2 activity list was registered (policy warn).
    ProjectFlagged {
        project: ProjectId,
        code: Code,
    },
    /// The notification of an adopted issuance decision: what each registry issues.
    IssuanceNotified {
        decision: DecisionId,
        project: ProjectId,
        host: PartyId,
        period_no: u32,
        foreign: ForeignIssuance,
        /// Whether the project's credits may be authorized under Article 6.2.
        eligible: bool,
        lines: Vec<IssuanceLine>,
        by: Actor,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MethodologyStatus {
    Submitted,
    Incomplete,
    PublicInput { closes_not_before: Timestamp },
    Consideration,
    Approved,
    Rejected,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodologyRecord {
    pub spec_hash: [u8; 32],
    pub status: MethodologyStatus,
    pub document: DocRef,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProjectStatus {
    Idea,
    PddDrafted,
    PddPublicInput { closes_not_before: Timestamp },
    UnderValidation,
    ValidationNegative,
    Validated,
    RegistrationRequested,
    Registered,
    RegistrationRejected,
    Withdrawn,
}

impl ProjectStatus {
    pub fn name(&self) -> &'static str {
        match self {
            ProjectStatus::Idea => "idea",
            ProjectStatus::PddDrafted => "pdd_drafted",
            ProjectStatus::PddPublicInput { .. } => "pdd_public_input",
            ProjectStatus::UnderValidation => "under_validation",
            ProjectStatus::ValidationNegative => "validation_negative",
            ProjectStatus::Validated => "validated",
            ProjectStatus::RegistrationRequested => "registration_requested",
            ProjectStatus::Registered => "registered",
            ProjectStatus::RegistrationRejected => "registration_rejected",
            ProjectStatus::Withdrawn => "withdrawn",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeriodStatus {
    Reported,
    Verified,
    IssuanceRequested,
    Decided,
    Rejected,
    Notified,
}

impl PeriodStatus {
    pub fn name(&self) -> &'static str {
        match self {
            PeriodStatus::Reported => "reported",
            PeriodStatus::Verified => "verified",
            PeriodStatus::IssuanceRequested => "issuance_requested",
            PeriodStatus::Decided => "decided",
            PeriodStatus::Rejected => "rejected",
            PeriodStatus::Notified => "notified",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitoringPeriodRecord {
    pub period: MitigationPeriod,
    pub inputs: Params,
    pub re: Decimal,
    pub pe: Decimal,
    pub er: Decimal,
    pub credited: u64,
    pub verified: Option<u64>,
    pub requested: Option<u64>,
    pub decided: Option<(DecisionId, u64)>,
    pub status: PeriodStatus,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectRecord {
    pub host: PartyId,
    pub activity: u16,
    pub participants: Vec<Actor>,
    pub status: ProjectStatus,
    pub methodology: Option<MethodologyRef>,
    pub ex_ante: Params,
    pub criteria: Vec<String>,
    pub crediting: Option<MitigationPeriod>,
    pub allocation: Option<Allocation>,
    pub validator: Option<Actor>,
    /// Whether credits may be authorized under Article 6.2 (the activity-list policy).
    pub article6_eligible: bool,
    pub flagged: bool,
    pub pending_change: Option<Change>,
    pub pending_renewal: Option<Date>,
    pub periods: BTreeMap<u32, MonitoringPeriodRecord>,
    /// The next JCM credit serial of the project (underlying unit ids).
    pub next_credit: u64,
    /// Documents by kind, in order.
    pub documents: Vec<(&'static str, DocRef)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Motion {
    pub subject: Subject,
    pub approvals: BTreeMap<PartyId, Actor>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecisionOutcome {
    Open(Motion),
    Adopted(Motion),
    Refused(Motion),
}

/// The state of a JCM mechanism chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JcmState {
    pub roles: BTreeMap<Actor, BTreeSet<Role>>,
    pub policy: JcmPolicy,
    /// Article 6.2 activity lists by party.
    pub activity_lists: BTreeMap<PartyId, BTreeSet<u16>>,
    pub methodologies: BTreeMap<MethodologyRef, MethodologyRecord>,
    pub projects: BTreeMap<ProjectId, ProjectRecord>,
    pub motions: BTreeMap<DecisionId, DecisionOutcome>,
    /// Adopted issuance decisions already notified.
    pub notified: BTreeSet<DecisionId>,
}

impl JcmState {
    fn has(&self, actor: &Actor, role: Role) -> bool {
        self.roles.get(actor).is_some_and(|r| r.contains(&role))
    }

    fn member_party(&self, actor: &Actor) -> Option<PartyId> {
        self.roles.get(actor)?.iter().find_map(|r| match r {
            Role::Member(p) => Some(*p),
            _ => None,
        })
    }

    /// Constituted: a member for each party and a secretariat. Until then the chain's
    /// operator appoints them; after, members come by decision and the secretariat by the
    /// secretariat.
    fn committee_complete(&self, parties: &[PartyId]) -> bool {
        self.roles
            .values()
            .any(|rs| rs.contains(&Role::Secretariat))
            && parties
                .iter()
                .all(|p| self.roles.values().any(|rs| rs.contains(&Role::Member(*p))))
    }

    fn require(&self, actor: &Actor, role: Role) -> R<()> {
        if self.has(actor, role) {
            Ok(())
        } else {
            Err(rej(
                Code::ROLE_REQUIRED,
                format!("{actor} does not hold the role {}", role.name()),
            ))
        }
    }

    fn require_secretariat(&self, actor: &Actor) -> R<()> {
        self.require(actor, Role::Secretariat)
    }

    pub fn project(&self, id: &ProjectId) -> R<&ProjectRecord> {
        self.projects
            .get(id)
            .ok_or_else(|| rej(Code::PROJECT_UNKNOWN, format!("no project {id}")))
    }

    /// A project, for folds and decisions that change it.
    fn project_mut(&mut self, id: &ProjectId) -> R<&mut ProjectRecord> {
        self.projects.get_mut(id).ok_or_else(|| {
            rej(
                Code::STEP_NOT_VALID_IN_STATE,
                format!("replay: unknown project {id}"),
            )
        })
    }

    fn require_participant(&self, actor: &Actor, project: &ProjectId) -> R<&ProjectRecord> {
        let p = self.project(project)?;
        if !p.participants.contains(actor) {
            return Err(rej(
                Code::ROLE_REQUIRED,
                format!("{actor} is not a participant of project {project}"),
            ));
        }
        Ok(p)
    }

    fn require_status(p: &ProjectRecord, id: &ProjectId, ok: bool, step: &str) -> R<()> {
        if ok {
            Ok(())
        } else {
            Err(rej(
                Code::STEP_NOT_VALID_IN_STATE,
                format!(
                    "{step} is not valid for project {id} in state {}",
                    p.status.name()
                ),
            ))
        }
    }

    fn period<'a>(p: &'a ProjectRecord, id: &ProjectId, no: u32) -> R<&'a MonitoringPeriodRecord> {
        p.periods.get(&no).ok_or_else(|| {
            rej(
                Code::STEP_NOT_VALID_IN_STATE,
                format!("project {id} has no monitoring period {no}"),
            )
        })
    }

    fn methodology_in(&self, m: &MethodologyRef, want: MethodologyStatus, step: &str) -> R<()> {
        let rec = self.methodologies.get(m).ok_or_else(|| {
            rej(
                Code::METHODOLOGY_UNKNOWN,
                format!("methodology {m} was not submitted"),
            )
        })?;
        let ok = match (want, rec.status) {
            (MethodologyStatus::PublicInput { .. }, MethodologyStatus::PublicInput { .. }) => true,
            (a, b) => a == b,
        };
        if ok {
            Ok(())
        } else {
            Err(rej(
                Code::STEP_NOT_VALID_IN_STATE,
                format!(
                    "{step} is not valid for methodology {m} in state {:?}",
                    rec.status
                ),
            ))
        }
    }

    /// Checks a step and returns its events; `parties` are the mechanism's parties.
    pub fn decide(
        &self,
        parties: &[PartyId],
        actor: &Actor,
        cmd: &JcmCommand,
        time: Timestamp,
    ) -> R<Vec<JcmEvent>> {
        let by = actor.clone();
        let days = |n: u32| Timestamp(time.0.saturating_add(n as i64 * 86_400_000_000));
        match cmd {
            JcmCommand::Appoint { actor: who, role } => {
                match role {
                    Role::Member(p) | Role::Participant(p) if !parties.contains(p) => {
                        return Err(rej(
                            Code::PARTY_NOT_IN_MECHANISM,
                            format!("{p} is not a party to this mechanism"),
                        ))
                    }
                    _ => {}
                }
                match role {
                    Role::Secretariat if self.has(actor, Role::Secretariat) => {}
                    Role::Member(_) | Role::Secretariat => {
                        if self.committee_complete(parties) {
                            return Err(rej(
                                Code::ROLE_REQUIRED,
                                "the Committee is constituted: members are appointed by its \
                                 decision (appoint_member)",
                            ));
                        }
                    }
                    Role::Participant(_) => self.require_secretariat(actor)?,
                    Role::Tpe => {
                        return Err(rej(
                            Code::ROLE_REQUIRED,
                            "TPEs are designated only by a Committee decision (designate_tpe)",
                        ))
                    }
                }
                if self.has(who, *role) {
                    return Err(rej(
                        Code::ALREADY_EXISTS,
                        format!("{who} already holds {}", role.name()),
                    ));
                }
                Ok(vec![JcmEvent::Appointed {
                    actor: who.clone(),
                    role: *role,
                    by,
                }])
            }
            JcmCommand::SubmitMethodology {
                methodology,
                document,
            } => {
                if self.roles.get(actor).is_none_or(|r| r.is_empty()) {
                    return Err(rej(
                        Code::ROLE_REQUIRED,
                        format!("{actor} holds no role in this mechanism"),
                    ));
                }
                let m =
                    methodology::find(&methodology.code, methodology.version).ok_or_else(|| {
                        rej(
                            Code::METHODOLOGY_UNKNOWN,
                            format!("no executable methodology {methodology}"),
                        )
                    })?;
                if let Some(rec) = self.methodologies.get(methodology) {
                    if rec.status != MethodologyStatus::Incomplete {
                        return Err(rej(
                            Code::ALREADY_EXISTS,
                            format!("methodology {methodology} was already submitted"),
                        ));
                    }
                }
                Ok(vec![JcmEvent::MethodologySubmitted {
                    methodology: methodology.clone(),
                    spec_hash: methodology::spec_hash(m),
                    document: *document,
                    by,
                }])
            }
            JcmCommand::CheckCompleteness {
                methodology,
                complete,
            } => {
                self.require_secretariat(actor)?;
                self.methodology_in(
                    methodology,
                    MethodologyStatus::Submitted,
                    "a completeness check",
                )?;
                let mut out = vec![JcmEvent::CompletenessChecked {
                    methodology: methodology.clone(),
                    complete: *complete,
                    by: by.clone(),
                }];
                if *complete {
                    out.push(JcmEvent::PublicInputOpened {
                        target: InputTarget::Methodology(methodology.clone()),
                        at: time,
                        closes_not_before: days(self.policy.methodology_public_input_days),
                        by,
                    });
                }
                Ok(out)
            }
            JcmCommand::ClosePublicInput { target } => {
                self.require_secretariat(actor)?;
                let closes = match target {
                    InputTarget::Methodology(m) => {
                        self.methodology_in(
                            m,
                            MethodologyStatus::PublicInput {
                                closes_not_before: Timestamp(0),
                            },
                            "closing public input",
                        )?;
                        match self.methodologies[m].status {
                            MethodologyStatus::PublicInput { closes_not_before } => {
                                closes_not_before
                            }
                            _ => unreachable!("checked above"),
                        }
                    }
                    InputTarget::Project(id) => {
                        let p = self.project(id)?;
                        match p.status {
                            ProjectStatus::PddPublicInput { closes_not_before } => {
                                closes_not_before
                            }
                            _ => {
                                Self::require_status(p, id, false, "closing public input")?;
                                unreachable!()
                            }
                        }
                    }
                };
                if time < closes {
                    return Err(rej(
                        Code::PUBLIC_INPUT_NOT_OVER,
                        format!("public input runs until {closes}"),
                    ));
                }
                Ok(vec![JcmEvent::PublicInputClosed {
                    target: target.clone(),
                    by,
                }])
            }
            JcmCommand::SubmitPin {
                project,
                host,
                activity,
                participants: named,
                document,
            } => {
                let mut c = Checks::new();
                c.require(
                    self.roles
                        .get(actor)
                        .is_some_and(|r| r.iter().any(|r| matches!(r, Role::Participant(_)))),
                    Code::ROLE_REQUIRED,
                    || format!("{actor} is not a project participant"),
                );
                c.require(
                    !self.projects.contains_key(project),
                    Code::ALREADY_EXISTS,
                    || format!("project {project} exists"),
                );
                c.require(parties.contains(host), Code::PARTY_NOT_IN_MECHANISM, || {
                    format!("{host} is not a party to this mechanism")
                });
                for n in named {
                    c.require(
                        self.roles
                            .get(n)
                            .is_some_and(|r| r.iter().any(|r| matches!(r, Role::Participant(_)))),
                        Code::ROLE_REQUIRED,
                        || format!("{n} is not a project participant"),
                    );
                }
                c.finish()?;
                let mut all = vec![actor.clone()];
                for n in named {
                    if !all.contains(n) {
                        all.push(n.clone());
                    }
                }
                Ok(vec![JcmEvent::PinSubmitted {
                    project: project.clone(),
                    host: *host,
                    activity: *activity,
                    participants: all,
                    document: *document,
                    by,
                }])
            }
            JcmCommand::SubmitPdd {
                project,
                methodology: mref,
                ex_ante,
                criteria,
                crediting,
                allocation: alloc,
                document,
            } => {
                let p = self.require_participant(actor, project)?;
                Self::require_status(
                    p,
                    project,
                    matches!(
                        p.status,
                        ProjectStatus::Idea
                            | ProjectStatus::PddDrafted
                            | ProjectStatus::ValidationNegative
                    ),
                    "a PDD",
                )?;
                let mut c = Checks::new();
                match methodology::find(&mref.code, mref.version) {
                    None => c.fail(
                        Code::METHODOLOGY_UNKNOWN,
                        format!("no executable methodology {mref}"),
                    ),
                    Some(m) => {
                        c.require(
                            self.methodologies
                                .get(mref)
                                .is_some_and(|r| r.status == MethodologyStatus::Approved),
                            Code::METHODOLOGY_NOT_APPROVED,
                            || format!("methodology {mref} is not approved"),
                        );
                        c.absorb(methodology::check_ex_ante(m, ex_ante));
                        c.absorb(methodology::check_criteria(m, criteria));
                    }
                }
                c.absorb(check_allocation(alloc, self.policy.remainder));
                c.finish()?;
                Ok(vec![JcmEvent::PddSubmitted {
                    project: project.clone(),
                    methodology: mref.clone(),
                    ex_ante: ex_ante.clone(),
                    criteria: criteria.clone(),
                    crediting: *crediting,
                    allocation: alloc.clone(),
                    document: *document,
                    by,
                }])
            }
            JcmCommand::OpenPddPublicInput { project } => {
                self.require_secretariat(actor)?;
                let p = self.project(project)?;
                Self::require_status(
                    p,
                    project,
                    p.status == ProjectStatus::PddDrafted,
                    "public input",
                )?;
                Ok(vec![JcmEvent::PublicInputOpened {
                    target: InputTarget::Project(project.clone()),
                    at: time,
                    closes_not_before: days(self.policy.pdd_public_input_days),
                    by,
                }])
            }
            JcmCommand::Validate {
                project,
                positive,
                document,
            } => {
                self.require(actor, Role::Tpe)?;
                let p = self.project(project)?;
                Self::require_status(
                    p,
                    project,
                    p.status == ProjectStatus::UnderValidation,
                    "validation",
                )?;
                Ok(vec![JcmEvent::Validated {
                    project: project.clone(),
                    positive: *positive,
                    document: *document,
                    by,
                }])
            }
            JcmCommand::RequestRegistration { project, document } => {
                let p = self.require_participant(actor, project)?;
                Self::require_status(
                    p,
                    project,
                    p.status == ProjectStatus::Validated,
                    "a registration request",
                )?;
                Ok(vec![JcmEvent::RegistrationRequested {
                    project: project.clone(),
                    document: *document,
                    by,
                }])
            }
            JcmCommand::WithdrawRegistrationRequest { project } => {
                let p = self.require_participant(actor, project)?;
                Self::require_status(
                    p,
                    project,
                    p.status == ProjectStatus::RegistrationRequested,
                    "withdrawing the registration request",
                )?;
                Ok(vec![JcmEvent::RegistrationRequestWithdrawn {
                    project: project.clone(),
                    by,
                }])
            }
            JcmCommand::RequestChange {
                project,
                change,
                document,
            } => {
                let p = self.require_participant(actor, project)?;
                Self::require_status(
                    p,
                    project,
                    p.status == ProjectStatus::Registered,
                    "a post-registration change",
                )?;
                let mut c = Checks::new();
                if let Some(a) = &change.allocation {
                    c.absorb(check_allocation(a, self.policy.remainder));
                }
                if let Some(m) = p
                    .methodology
                    .as_ref()
                    .and_then(|m| methodology::find(&m.code, m.version))
                {
                    c.absorb(methodology::check_ex_ante(m, &change.ex_ante));
                }
                c.require(
                    change.allocation.is_some() || !change.ex_ante.is_empty(),
                    Code::STEP_NOT_VALID_IN_STATE,
                    || "the change changes nothing".into(),
                );
                c.finish()?;
                Ok(vec![JcmEvent::ChangeRequested {
                    project: project.clone(),
                    change: change.clone(),
                    document: *document,
                    by,
                }])
            }
            JcmCommand::RequestRenewal {
                project,
                until,
                document,
            } => {
                let p = self.require_participant(actor, project)?;
                Self::require_status(
                    p,
                    project,
                    p.status == ProjectStatus::Registered,
                    "a renewal",
                )?;
                if p.crediting.is_some_and(|c| *until <= c.end()) {
                    return Err(rej(
                        Code::PERIOD_INVALID,
                        "a renewal must extend the crediting period",
                    ));
                }
                Ok(vec![JcmEvent::RenewalRequested {
                    project: project.clone(),
                    until: *until,
                    document: *document,
                    by,
                }])
            }
            JcmCommand::WithdrawProject { project, document } => {
                let p = self.require_participant(actor, project)?;
                Self::require_status(
                    p,
                    project,
                    p.status == ProjectStatus::Registered,
                    "withdrawal",
                )?;
                Ok(vec![JcmEvent::ProjectWithdrawn {
                    project: project.clone(),
                    document: *document,
                    by,
                }])
            }
            JcmCommand::ReportMonitoring {
                project,
                period_no,
                period,
                values,
                document,
            } => {
                let p = self.require_participant(actor, project)?;
                Self::require_status(
                    p,
                    project,
                    p.status == ProjectStatus::Registered,
                    "a monitoring report",
                )?;
                let mut c = Checks::new();
                c.require(
                    !p.periods.contains_key(period_no),
                    Code::ALREADY_EXISTS,
                    || format!("monitoring period {period_no} was already reported"),
                );
                let crediting = p.crediting.unwrap_or(*period);
                c.require(
                    period.start() >= crediting.start() && period.end() <= crediting.end(),
                    Code::PERIOD_OUTSIDE_CREDITING,
                    || {
                        format!(
                            "{}..{} is outside the crediting period {}..{}",
                            period.start(),
                            period.end(),
                            crediting.start(),
                            crediting.end()
                        )
                    },
                );
                c.require(
                    !p.periods.values().any(|q| {
                        q.period.start() <= period.end() && period.start() <= q.period.end()
                    }),
                    Code::PERIOD_OVERLAPS,
                    || "the period overlaps a reported monitoring period".into(),
                );
                if self.policy.straddle == StraddlePolicy::Refuse {
                    c.require(
                        period.days_per_year().len() == 1,
                        Code::VINTAGE_RULE,
                        || {
                            "the straddle policy refuses periods that straddle calendar years"
                                .into()
                        },
                    );
                }
                let m = p
                    .methodology
                    .as_ref()
                    .and_then(|m| methodology::find(&m.code, m.version));
                let comp = match m {
                    Some(m) => c.absorb(methodology::evaluate(
                        m,
                        &p.ex_ante,
                        values,
                        self.policy.rounding,
                    )),
                    None => {
                        c.fail(
                            Code::METHODOLOGY_UNKNOWN,
                            "the project's methodology is not executable here",
                        );
                        None
                    }
                };
                c.finish()?;
                let comp = comp.ok_or_else(|| rej(Code::METHODOLOGY_UNKNOWN, "no computation"))?;
                Ok(vec![JcmEvent::MonitoringReported {
                    project: project.clone(),
                    period_no: *period_no,
                    period: *period,
                    inputs: comp.inputs,
                    re: comp.re,
                    pe: comp.pe,
                    er: comp.er,
                    credited: comp.credited,
                    document: *document,
                    by,
                }])
            }
            JcmCommand::Verify {
                project,
                period_no,
                amount,
                document,
            } => {
                self.require(actor, Role::Tpe)?;
                let p = self.project(project)?;
                let mp = Self::period(p, project, *period_no)?;
                if mp.status != PeriodStatus::Reported {
                    return Err(rej(
                        Code::STEP_NOT_VALID_IN_STATE,
                        format!("period {period_no} is {}, not reported", mp.status.name()),
                    ));
                }
                if *amount > mp.credited {
                    return Err(rej(
                        Code::VERIFIED_EXCEEDS_COMPUTED,
                        format!(
                            "verified {amount} exceeds the {} credits computed",
                            mp.credited
                        ),
                    ));
                }
                Ok(vec![JcmEvent::Verified {
                    project: project.clone(),
                    period_no: *period_no,
                    amount: *amount,
                    document: *document,
                    by,
                }])
            }
            JcmCommand::RequestIssuance {
                project,
                period_no,
                quantity,
                document,
            } => {
                let p = self.require_participant(actor, project)?;
                let mp = Self::period(p, project, *period_no)?;
                check_issuable(mp, *period_no, *quantity, PeriodStatus::Verified)?;
                Ok(vec![JcmEvent::IssuanceRequested {
                    project: project.clone(),
                    period_no: *period_no,
                    quantity: *quantity,
                    document: *document,
                    by,
                }])
            }
            JcmCommand::WithdrawIssuanceRequest { project, period_no } => {
                let p = self.require_participant(actor, project)?;
                let mp = Self::period(p, project, *period_no)?;
                if mp.status != PeriodStatus::IssuanceRequested {
                    return Err(rej(
                        Code::STEP_NOT_VALID_IN_STATE,
                        format!("period {period_no} has no pending issuance request"),
                    ));
                }
                Ok(vec![JcmEvent::IssuanceRequestWithdrawn {
                    project: project.clone(),
                    period_no: *period_no,
                    by,
                }])
            }
            JcmCommand::Propose { decision, subject } => {
                let party = self.member_party(actor).ok_or_else(|| {
                    rej(
                        Code::ROLE_REQUIRED,
                        format!("{actor} is not a Committee member"),
                    )
                })?;
                if self.motions.contains_key(decision) {
                    return Err(rej(
                        Code::ALREADY_EXISTS,
                        format!("decision {decision} exists"),
                    ));
                }
                self.check_subject(parties, subject)?;
                let mut out = vec![JcmEvent::MotionProposed {
                    decision: decision.clone(),
                    subject: subject.clone(),
                    party,
                    by,
                }];
                if parties.iter().all(|p| *p == party) {
                    out.extend(self.adopt(decision, subject)?);
                }
                Ok(out)
            }
            JcmCommand::Concur { decision } | JcmCommand::Refuse { decision } => {
                let party = self.member_party(actor).ok_or_else(|| {
                    rej(
                        Code::ROLE_REQUIRED,
                        format!("{actor} is not a Committee member"),
                    )
                })?;
                let motion = match self.motions.get(decision) {
                    Some(DecisionOutcome::Open(m)) => m,
                    _ => {
                        return Err(rej(
                            Code::MOTION_UNKNOWN,
                            format!("no open motion {decision}"),
                        ))
                    }
                };
                if motion.approvals.contains_key(&party) {
                    return Err(rej(
                        Code::SAME_SIDE_CONCURRENCE,
                        format!("{party} has already approved {decision}: the other side must"),
                    ));
                }
                if matches!(cmd, JcmCommand::Refuse { .. }) {
                    return Ok(vec![JcmEvent::MotionRefused {
                        decision: decision.clone(),
                        party,
                        by,
                    }]);
                }
                self.check_subject(parties, &motion.subject)?;
                let mut out = vec![JcmEvent::MotionConcurred {
                    decision: decision.clone(),
                    party,
                    by,
                }];
                let approved: BTreeSet<PartyId> =
                    motion.approvals.keys().copied().chain([party]).collect();
                if parties.iter().all(|p| approved.contains(p)) {
                    out.extend(self.adopt(decision, &motion.subject)?);
                }
                Ok(out)
            }
            JcmCommand::Notify { decision } => {
                self.require_secretariat(actor)?;
                let m = match self.motions.get(decision) {
                    Some(DecisionOutcome::Adopted(m)) => m,
                    _ => {
                        return Err(rej(
                            Code::DECISION_NOT_ADOPTED,
                            format!("decision {decision} has not been adopted by both sides"),
                        ))
                    }
                };
                let (project, period_no) = match &m.subject {
                    Subject::DecideIssuance {
                        project, period_no, ..
                    } => (project, *period_no),
                    s => {
                        return Err(rej(
                            Code::STEP_NOT_VALID_IN_STATE,
                            format!("decision {decision} ({}) is not an issuance", s.name()),
                        ))
                    }
                };
                if self.notified.contains(decision) {
                    return Err(rej(
                        Code::STEP_NOT_VALID_IN_STATE,
                        format!("decision {decision} was already notified"),
                    ));
                }
                let p = self.project(project)?;
                let mp = Self::period(p, project, period_no)?;
                let lines = self.issuance_lines(p, mp)?;
                Ok(vec![JcmEvent::IssuanceNotified {
                    decision: decision.clone(),
                    project: project.clone(),
                    host: p.host,
                    period_no,
                    foreign: self.policy.foreign_issuance,
                    eligible: p.article6_eligible,
                    lines,
                    by,
                }])
            }
        }
    }

    /// The lines each registry issues for a decided period: the allocation of the decided
    /// quantity (floor per share, remainder to the designated share), each share split over
    /// the period's calendar years (the straddle policy), with consecutive credit serials.
    pub fn issuance_lines(
        &self,
        p: &ProjectRecord,
        mp: &MonitoringPeriodRecord,
    ) -> R<Vec<IssuanceLine>> {
        let (_, quantity) = mp
            .decided
            .clone()
            .ok_or_else(|| rej(Code::DECISION_NOT_ADOPTED, "no issuance decided"))?;
        let alloc = p
            .allocation
            .as_ref()
            .ok_or_else(|| rej(Code::ALLOCATION_INVALID, "the project has no allocation"))?;
        let remainder = remainder_index(alloc, self.policy.remainder);
        let qs = allocation::allocate(quantity, &alloc.shares, remainder)?;
        let mut unit = p.next_credit;
        let mut lines = Vec::new();
        for (share, q) in alloc.shares.iter().zip(qs) {
            for (year, n) in mp.period.apportion(q) {
                let lo = Date::from_ymd(year, 1, 1)?.max(mp.period.start());
                let hi = Date::from_ymd(year, 12, 31)?.min(mp.period.end());
                lines.push(IssuanceLine {
                    registry: share.registry,
                    account: share.account,
                    period: MitigationPeriod::new(lo, hi)?,
                    quantity: n,
                    unit_start: unit,
                });
                unit += n;
            }
        }
        Ok(lines)
    }

    /// Whether a subject can be decided now (checked at proposal and again at adoption).
    fn check_subject(&self, parties: &[PartyId], s: &Subject) -> R<()> {
        match s {
            Subject::ApproveMethodology(m) | Subject::RejectMethodology(m) => {
                self.methodology_in(m, MethodologyStatus::Consideration, "a decision")
            }
            Subject::DesignateTpe(a) => {
                if self.has(a, Role::Tpe) {
                    Err(rej(Code::ALREADY_EXISTS, format!("{a} is already a TPE")))
                } else {
                    Ok(())
                }
            }
            Subject::AppointMember { actor, party } => {
                if !parties.contains(party) {
                    Err(rej(
                        Code::PARTY_NOT_IN_MECHANISM,
                        format!("{party} is not a party"),
                    ))
                } else if self.member_party(actor).is_some() {
                    Err(rej(
                        Code::ALREADY_EXISTS,
                        format!("{actor} is already a member"),
                    ))
                } else {
                    Ok(())
                }
            }
            Subject::SetActivityList { party, .. } => {
                if parties.contains(party) {
                    Ok(())
                } else {
                    Err(rej(
                        Code::PARTY_NOT_IN_MECHANISM,
                        format!("{party} is not a party"),
                    ))
                }
            }
            Subject::SetPolicy(_) => Ok(()),
            Subject::RegisterProject(id) | Subject::RejectRegistration(id) => {
                let p = self.project(id)?;
                Self::require_status(
                    p,
                    id,
                    p.status == ProjectStatus::RegistrationRequested,
                    "a registration decision",
                )?;
                if matches!(s, Subject::RegisterProject(_))
                    && !self.on_list(p)
                    && self.policy.outside_list_registration == OutsideListAtRegistration::Block
                {
                    return Err(rej(
                        Code::ACTIVITY_NOT_ELIGIBLE,
                        format!(
                            "activity {} is not on {}'s Article 6.2 list",
                            p.activity, p.host
                        ),
                    ));
                }
                Ok(())
            }
            Subject::ApproveChange(id) => {
                let p = self.project(id)?;
                Self::require_status(
                    p,
                    id,
                    p.status == ProjectStatus::Registered && p.pending_change.is_some(),
                    "approving a change",
                )
            }
            Subject::RenewCreditingPeriod { project, until } => {
                let p = self.project(project)?;
                Self::require_status(
                    p,
                    project,
                    p.status == ProjectStatus::Registered && p.pending_renewal == Some(*until),
                    "a renewal decision",
                )
            }
            Subject::DecideIssuance {
                project,
                period_no,
                quantity,
            } => {
                let p = self.project(project)?;
                Self::require_status(
                    p,
                    project,
                    p.status == ProjectStatus::Registered,
                    "an issuance decision",
                )?;
                let mp = Self::period(p, project, *period_no)?;
                check_issuable(mp, *period_no, *quantity, PeriodStatus::IssuanceRequested)?;
                if mp.requested.is_some_and(|r| *quantity > r) {
                    return Err(rej(
                        Code::EXCEEDS_VERIFIED,
                        format!(
                            "{quantity} exceeds the {} requested",
                            mp.requested.unwrap_or(0)
                        ),
                    ));
                }
                Ok(())
            }
            Subject::RejectIssuance { project, period_no } => {
                let p = self.project(project)?;
                let mp = Self::period(p, project, *period_no)?;
                check_issuable(mp, *period_no, 0, PeriodStatus::IssuanceRequested)
            }
        }
    }

    fn on_list(&self, p: &ProjectRecord) -> bool {
        self.activity_lists
            .get(&p.host)
            .is_some_and(|l| l.contains(&p.activity))
    }

    /// The events that adopting a subject adds.
    fn adopt(&self, decision: &DecisionId, s: &Subject) -> R<Vec<JcmEvent>> {
        let mut out = vec![JcmEvent::DecisionAdopted {
            decision: decision.clone(),
        }];
        if let Subject::RegisterProject(id) = s {
            let p = self.project(id)?;
            if !self.on_list(p) {
                out.push(JcmEvent::ProjectFlagged {
                    project: id.clone(),
                    code: Code::ACTIVITY_NOT_ELIGIBLE,
                });
            }
        }
        Ok(out)
    }

    /// Applies one event; refuses events that are not legal in the current state.
    pub fn fold(&mut self, ev: &JcmEvent) -> R<()> {
        let illegal = |what: &str| rej(Code::STEP_NOT_VALID_IN_STATE, format!("replay: {what}"));
        match ev {
            JcmEvent::Appointed { actor, role, .. } => {
                self.roles.entry(actor.clone()).or_default().insert(*role);
            }
            JcmEvent::MethodologySubmitted {
                methodology,
                spec_hash,
                document,
                ..
            } => {
                self.methodologies.insert(
                    methodology.clone(),
                    MethodologyRecord {
                        spec_hash: *spec_hash,
                        status: MethodologyStatus::Submitted,
                        document: *document,
                    },
                );
            }
            JcmEvent::CompletenessChecked {
                methodology,
                complete,
                ..
            } => {
                let m = self
                    .methodologies
                    .get_mut(methodology)
                    .ok_or_else(|| illegal("unknown methodology"))?;
                m.status = if *complete {
                    MethodologyStatus::Consideration
                } else {
                    MethodologyStatus::Incomplete
                };
            }
            JcmEvent::PublicInputOpened {
                target,
                closes_not_before,
                ..
            } => match target {
                InputTarget::Methodology(m) => {
                    let m = self
                        .methodologies
                        .get_mut(m)
                        .ok_or_else(|| illegal("unknown methodology"))?;
                    m.status = MethodologyStatus::PublicInput {
                        closes_not_before: *closes_not_before,
                    };
                }
                InputTarget::Project(id) => {
                    let p = self
                        .projects
                        .get_mut(id)
                        .ok_or_else(|| illegal("unknown project"))?;
                    p.status = ProjectStatus::PddPublicInput {
                        closes_not_before: *closes_not_before,
                    };
                }
            },
            JcmEvent::PublicInputClosed { target, .. } => match target {
                InputTarget::Methodology(m) => {
                    let m = self
                        .methodologies
                        .get_mut(m)
                        .ok_or_else(|| illegal("unknown methodology"))?;
                    m.status = MethodologyStatus::Consideration;
                }
                InputTarget::Project(id) => {
                    let p = self
                        .projects
                        .get_mut(id)
                        .ok_or_else(|| illegal("unknown project"))?;
                    p.status = ProjectStatus::UnderValidation;
                }
            },
            JcmEvent::PinSubmitted {
                project,
                host,
                activity,
                participants,
                document,
                ..
            } => {
                if self.projects.contains_key(project) {
                    return Err(illegal("project exists"));
                }
                self.projects.insert(
                    project.clone(),
                    ProjectRecord {
                        host: *host,
                        activity: *activity,
                        participants: participants.clone(),
                        status: ProjectStatus::Idea,
                        methodology: None,
                        ex_ante: Params::new(),
                        criteria: Vec::new(),
                        crediting: None,
                        allocation: None,
                        validator: None,
                        article6_eligible: true,
                        flagged: false,
                        pending_change: None,
                        pending_renewal: None,
                        periods: BTreeMap::new(),
                        next_credit: 1,
                        documents: vec![("project_idea_note", *document)],
                    },
                );
            }
            JcmEvent::PddSubmitted {
                project,
                methodology,
                ex_ante,
                criteria,
                crediting,
                allocation,
                document,
                ..
            } => {
                let p = self.project_mut(project)?;
                p.methodology = Some(methodology.clone());
                p.ex_ante = ex_ante.clone();
                p.criteria = criteria.clone();
                p.crediting = Some(*crediting);
                p.allocation = Some(allocation.clone());
                p.status = ProjectStatus::PddDrafted;
                p.documents.push(("pdd", *document));
            }
            JcmEvent::Validated {
                project,
                positive,
                document,
                by,
            } => {
                let p = self.project_mut(project)?;
                p.status = if *positive {
                    ProjectStatus::Validated
                } else {
                    ProjectStatus::ValidationNegative
                };
                p.validator = Some(by.clone());
                p.documents.push(("validation_report", *document));
            }
            JcmEvent::RegistrationRequested {
                project, document, ..
            } => {
                let p = self.project_mut(project)?;
                p.status = ProjectStatus::RegistrationRequested;
                p.documents.push(("registration_request", *document));
            }
            JcmEvent::RegistrationRequestWithdrawn { project, .. } => {
                let p = self.project_mut(project)?;
                p.status = ProjectStatus::Validated;
            }
            JcmEvent::ChangeRequested {
                project,
                change,
                document,
                ..
            } => {
                let p = self.project_mut(project)?;
                p.pending_change = Some(change.clone());
                p.documents
                    .push(("post_registration_change_request", *document));
            }
            JcmEvent::RenewalRequested {
                project,
                until,
                document,
                ..
            } => {
                let p = self.project_mut(project)?;
                p.pending_renewal = Some(*until);
                p.documents.push(("renewal_request", *document));
            }
            JcmEvent::ProjectWithdrawn {
                project, document, ..
            } => {
                let p = self.project_mut(project)?;
                p.status = ProjectStatus::Withdrawn;
                p.documents.push(("withdrawal_request", *document));
            }
            JcmEvent::MonitoringReported {
                project,
                period_no,
                period,
                inputs,
                re,
                pe,
                er,
                credited,
                document,
                ..
            } => {
                let p = self.project_mut(project)?;
                if p.periods.contains_key(period_no) {
                    return Err(illegal("period reported twice"));
                }
                p.periods.insert(
                    *period_no,
                    MonitoringPeriodRecord {
                        period: *period,
                        inputs: inputs.clone(),
                        re: *re,
                        pe: *pe,
                        er: *er,
                        credited: *credited,
                        verified: None,
                        requested: None,
                        decided: None,
                        status: PeriodStatus::Reported,
                    },
                );
                p.documents.push(("monitoring_report", *document));
            }
            JcmEvent::Verified {
                project,
                period_no,
                amount,
                document,
                ..
            } => {
                let p = self.project_mut(project)?;
                let mp = p
                    .periods
                    .get_mut(period_no)
                    .ok_or_else(|| illegal("unknown period"))?;
                mp.verified = Some(*amount);
                mp.status = PeriodStatus::Verified;
                p.documents.push(("verification_report", *document));
            }
            JcmEvent::IssuanceRequested {
                project,
                period_no,
                quantity,
                document,
                ..
            } => {
                let p = self.project_mut(project)?;
                let mp = p
                    .periods
                    .get_mut(period_no)
                    .ok_or_else(|| illegal("unknown period"))?;
                mp.requested = Some(*quantity);
                mp.status = PeriodStatus::IssuanceRequested;
                p.documents.push(("credits_issuance_request", *document));
            }
            JcmEvent::IssuanceRequestWithdrawn {
                project, period_no, ..
            } => {
                let p = self.project_mut(project)?;
                let mp = p
                    .periods
                    .get_mut(period_no)
                    .ok_or_else(|| illegal("unknown period"))?;
                mp.requested = None;
                mp.status = PeriodStatus::Verified;
            }
            JcmEvent::MotionProposed {
                decision,
                subject,
                party,
                by,
            } => {
                if self.motions.contains_key(decision) {
                    return Err(illegal("decision id reused"));
                }
                self.motions.insert(
                    decision.clone(),
                    DecisionOutcome::Open(Motion {
                        subject: subject.clone(),
                        approvals: [(*party, by.clone())].into(),
                    }),
                );
            }
            JcmEvent::MotionConcurred {
                decision,
                party,
                by,
            } => match self.motions.get_mut(decision) {
                Some(DecisionOutcome::Open(m)) => {
                    m.approvals.insert(*party, by.clone());
                }
                _ => return Err(illegal("no open motion")),
            },
            JcmEvent::MotionRefused { decision, .. } => {
                if !matches!(self.motions.get(decision), Some(DecisionOutcome::Open(_))) {
                    return Err(illegal("no open motion"));
                }
                if let Some(DecisionOutcome::Open(m)) = self.motions.remove(decision) {
                    self.motions
                        .insert(decision.clone(), DecisionOutcome::Refused(m));
                }
            }
            JcmEvent::DecisionAdopted { decision } => {
                let subject = match self.motions.get(decision) {
                    Some(DecisionOutcome::Open(m)) => m.subject.clone(),
                    _ => return Err(illegal("no open motion")),
                };
                self.apply_subject(decision, &subject)?;
                if let Some(DecisionOutcome::Open(m)) = self.motions.remove(decision) {
                    self.motions
                        .insert(decision.clone(), DecisionOutcome::Adopted(m));
                }
            }
            JcmEvent::ProjectFlagged { project, .. } => {
                let outside = self.policy.outside_list_authorization;
                let p = self.project_mut(project)?;
                p.flagged = true;
                p.article6_eligible = outside == OutsideListAuthorization::Allow;
            }
            JcmEvent::IssuanceNotified {
                decision,
                project,
                period_no,
                lines,
                ..
            } => {
                if self.notified.contains(decision) {
                    return Err(illegal("notified twice"));
                }
                let p = self.project_mut(project)?;
                let mp = p
                    .periods
                    .get_mut(period_no)
                    .ok_or_else(|| illegal("unknown period"))?;
                mp.status = PeriodStatus::Notified;
                p.next_credit += lines.iter().map(|l| l.quantity).sum::<u64>();
                self.notified.insert(decision.clone());
            }
        }
        Ok(())
    }

    fn apply_subject(&mut self, decision: &DecisionId, s: &Subject) -> R<()> {
        let illegal = |what: &str| rej(Code::STEP_NOT_VALID_IN_STATE, format!("replay: {what}"));
        match s {
            Subject::ApproveMethodology(m) | Subject::RejectMethodology(m) => {
                let rec = self
                    .methodologies
                    .get_mut(m)
                    .ok_or_else(|| illegal("unknown methodology"))?;
                rec.status = if matches!(s, Subject::ApproveMethodology(_)) {
                    MethodologyStatus::Approved
                } else {
                    MethodologyStatus::Rejected
                };
            }
            Subject::DesignateTpe(a) => {
                self.roles.entry(a.clone()).or_default().insert(Role::Tpe);
            }
            Subject::AppointMember { actor, party } => {
                self.roles
                    .entry(actor.clone())
                    .or_default()
                    .insert(Role::Member(*party));
            }
            Subject::SetActivityList { party, activities } => {
                self.activity_lists
                    .insert(*party, activities.iter().copied().collect());
            }
            Subject::SetPolicy(p) => self.policy = *p,
            Subject::RegisterProject(id) | Subject::RejectRegistration(id) => {
                let p = self
                    .projects
                    .get_mut(id)
                    .ok_or_else(|| illegal("unknown project"))?;
                p.status = if matches!(s, Subject::RegisterProject(_)) {
                    ProjectStatus::Registered
                } else {
                    ProjectStatus::RegistrationRejected
                };
            }
            Subject::ApproveChange(id) => {
                let p = self
                    .projects
                    .get_mut(id)
                    .ok_or_else(|| illegal("unknown project"))?;
                let c = p
                    .pending_change
                    .take()
                    .ok_or_else(|| illegal("no pending change"))?;
                if let Some(a) = c.allocation {
                    p.allocation = Some(a);
                }
                for (k, v) in c.ex_ante {
                    p.ex_ante.insert(k, v);
                }
            }
            Subject::RenewCreditingPeriod { project, until } => {
                let p = self.project_mut(project)?;
                let c = p.crediting.ok_or_else(|| illegal("no crediting period"))?;
                p.crediting = Some(MitigationPeriod::new(c.start(), *until)?);
                p.pending_renewal = None;
            }
            Subject::DecideIssuance {
                project,
                period_no,
                quantity,
            } => {
                let p = self.project_mut(project)?;
                let mp = p
                    .periods
                    .get_mut(period_no)
                    .ok_or_else(|| illegal("unknown period"))?;
                mp.decided = Some((decision.clone(), *quantity));
                mp.status = PeriodStatus::Decided;
            }
            Subject::RejectIssuance { project, period_no } => {
                let p = self.project_mut(project)?;
                let mp = p
                    .periods
                    .get_mut(period_no)
                    .ok_or_else(|| illegal("unknown period"))?;
                mp.status = PeriodStatus::Rejected;
            }
        }
        Ok(())
    }

    pub fn encode_state(&self, e: &mut Enc) {
        e.len(self.roles.len());
        for (a, rs) in &self.roles {
            e.str(a.as_str());
            e.len(rs.len());
            for r in rs {
                put_role(e, r);
            }
        }
        put_policy(e, &self.policy);
        e.len(self.activity_lists.len());
        for (p, l) in &self.activity_lists {
            e.party(p);
            e.len(l.len());
            for a in l {
                e.u16(*a);
            }
        }
        e.len(self.methodologies.len());
        for (m, r) in &self.methodologies {
            put_mref(e, m);
            e.bytes32(&r.spec_hash);
            match r.status {
                MethodologyStatus::Submitted => e.u8(0),
                MethodologyStatus::Incomplete => e.u8(1),
                MethodologyStatus::PublicInput { closes_not_before } => {
                    e.u8(2);
                    e.i64(closes_not_before.0);
                }
                MethodologyStatus::Consideration => e.u8(3),
                MethodologyStatus::Approved => e.u8(4),
                MethodologyStatus::Rejected => e.u8(5),
            }
            put_doc(e, &r.document);
        }
        e.len(self.projects.len());
        for (id, p) in &self.projects {
            e.str(id.as_str());
            e.party(&p.host);
            e.u16(p.activity);
            e.len(p.participants.len());
            for a in &p.participants {
                put_actor(e, a);
            }
            e.str(p.status.name());
            if let ProjectStatus::PddPublicInput { closes_not_before } = p.status {
                e.i64(closes_not_before.0);
            }
            e.opt(&p.methodology, put_mref);
            put_params(e, &p.ex_ante);
            put_strings(e, &p.criteria);
            e.opt(&p.crediting, |e, c| e.period(c));
            e.opt(&p.allocation, put_alloc);
            e.opt(&p.validator, put_actor);
            e.bool(p.article6_eligible);
            e.bool(p.flagged);
            e.opt(&p.pending_change, put_change);
            e.opt(&p.pending_renewal, put_date);
            e.len(p.periods.len());
            for (no, mp) in &p.periods {
                e.u32(*no);
                e.period(&mp.period);
                put_params(e, &mp.inputs);
                put_dec(e, &mp.re);
                put_dec(e, &mp.pe);
                put_dec(e, &mp.er);
                e.u64(mp.credited);
                e.opt(&mp.verified, |e, v| e.u64(*v));
                e.opt(&mp.requested, |e, v| e.u64(*v));
                e.opt(&mp.decided, |e, (d, q)| {
                    e.str(d.as_str());
                    e.u64(*q);
                });
                e.str(mp.status.name());
            }
            e.u64(p.next_credit);
            e.len(p.documents.len());
            for (k, d) in &p.documents {
                e.str(k);
                put_doc(e, d);
            }
        }
        e.len(self.motions.len());
        for (d, m) in &self.motions {
            e.str(d.as_str());
            let (tag, m) = match m {
                DecisionOutcome::Open(m) => (0, m),
                DecisionOutcome::Adopted(m) => (1, m),
                DecisionOutcome::Refused(m) => (2, m),
            };
            e.u8(tag);
            put_subject(e, &m.subject);
            e.len(m.approvals.len());
            for (p, a) in &m.approvals {
                e.party(p);
                put_actor(e, a);
            }
        }
        e.len(self.notified.len());
        for d in &self.notified {
            e.str(d.as_str());
        }
    }
}

/// The period can take an issuance of `quantity` in state `want`: never twice (8032), never
/// more than verified (8033).
fn check_issuable(
    mp: &MonitoringPeriodRecord,
    no: u32,
    quantity: u64,
    want: PeriodStatus,
) -> R<()> {
    if matches!(mp.status, PeriodStatus::Decided | PeriodStatus::Notified) {
        return Err(rej(
            Code::PERIOD_ALREADY_ISSUED,
            format!("monitoring period {no} already has an issuance decided"),
        ));
    }
    if mp.status != want {
        return Err(rej(
            Code::STEP_NOT_VALID_IN_STATE,
            format!("monitoring period {no} is {}", mp.status.name()),
        ));
    }
    let verified = mp.verified.unwrap_or(0);
    if quantity > verified {
        return Err(rej(
            Code::EXCEEDS_VERIFIED,
            format!("{quantity} exceeds the {verified} verified for period {no}"),
        ));
    }
    if want == PeriodStatus::Verified && quantity == 0 {
        return Err(rej(
            Code::QUANTITY_ZERO,
            "an issuance request needs a quantity",
        ));
    }
    Ok(())
}

fn remainder_index(a: &Allocation, policy: RemainderPolicy) -> usize {
    match policy {
        RemainderPolicy::DesignatedShare => a.remainder_to as usize,
        RemainderPolicy::LargestShare => {
            let max = a.shares.iter().map(|s| s.percent).max().unwrap_or_default();
            a.shares.iter().position(|s| s.percent == max).unwrap_or(0)
        }
    }
}

fn check_allocation(a: &Allocation, policy: RemainderPolicy) -> R<()> {
    allocation::allocate(0, &a.shares, remainder_index(a, policy)).map(|_| ())
}

// ----- canonical encoding ---------------------------------------------------------------------

fn put_role(e: &mut Enc, r: &Role) {
    match r {
        Role::Member(p) => {
            e.u8(0);
            e.party(p);
        }
        Role::Secretariat => e.u8(1),
        Role::Tpe => e.u8(2),
        Role::Participant(p) => {
            e.u8(3);
            e.party(p);
        }
    }
}

fn get_role(d: &mut Dec) -> DR<Role> {
    Ok(match d.u8()? {
        0 => Role::Member(d.party()?),
        1 => Role::Secretariat,
        2 => Role::Tpe,
        3 => Role::Participant(d.party()?),
        _ => return bad("unknown role"),
    })
}

fn put_mref(e: &mut Enc, m: &MethodologyRef) {
    e.str(&m.code);
    e.u32(m.version);
}

fn get_mref(d: &mut Dec) -> DR<MethodologyRef> {
    let code = d.str()?;
    if !valid_code(code) {
        return bad("invalid methodology code");
    }
    Ok(MethodologyRef {
        code: code.to_owned(),
        version: d.u32()?,
    })
}

/// Methodology codes and parameter names: 1–32 of `A-Z a-z 0-9 _ . -`.
pub fn valid_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn put_params(e: &mut Enc, p: &Params) {
    e.len(p.len());
    for (k, v) in p {
        e.str(k);
        put_dec(e, v);
    }
}

fn get_params(d: &mut Dec) -> DR<Params> {
    let n = d.count()?;
    let mut p = Params::new();
    for _ in 0..n {
        let k = d.str()?;
        if !valid_code(k) {
            return bad("invalid parameter name");
        }
        let v = get_dec(d)?;
        if p.insert(k.to_owned(), v).is_some() {
            return bad("parameter named twice");
        }
    }
    Ok(p)
}

fn put_alloc(e: &mut Enc, a: &Allocation) {
    e.len(a.shares.len());
    for s in &a.shares {
        e.registry(&s.registry);
        e.u64(s.account.0);
        put_dec(e, &s.percent);
    }
    e.u32(a.remainder_to);
}

fn get_alloc(d: &mut Dec) -> DR<Allocation> {
    let n = d.count()?;
    let mut shares = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        shares.push(Share {
            registry: d.registry()?,
            account: AccountId(d.u64()?),
            percent: get_dec(d)?,
        });
    }
    Ok(Allocation {
        shares,
        remainder_to: d.u32()?,
    })
}

fn put_actor(e: &mut Enc, a: &Actor) {
    e.str(a.as_str());
}

fn get_actor(d: &mut Dec) -> DR<Actor> {
    tok(d.str()?, Actor::parse)
}

fn get_project(d: &mut Dec) -> DR<ProjectId> {
    tok(d.str()?, ProjectId::parse)
}

fn get_decision(d: &mut Dec) -> DR<DecisionId> {
    tok(d.str()?, DecisionId::parse)
}

fn put_date(e: &mut Enc, x: &Date) {
    e.i32(x.days());
}

fn get_date(d: &mut Dec) -> DR<Date> {
    Ok(Date::from_days(d.i32()?))
}

fn put_policy(e: &mut Enc, p: &JcmPolicy) {
    e.u8(p.rounding as u8);
    e.u32(p.methodology_public_input_days);
    e.u32(p.pdd_public_input_days);
    e.u8(p.outside_list_registration as u8);
    e.u8(p.outside_list_authorization as u8);
    e.u8(crate::encode::straddle_tag(p.straddle));
    e.u8(p.foreign_issuance as u8);
    e.u8(p.remainder as u8);
}

fn get_policy(d: &mut Dec) -> DR<JcmPolicy> {
    Ok(JcmPolicy {
        rounding: match d.u8()? {
            0 => Rounding::Floor,
            1 => Rounding::HalfUp,
            2 => Rounding::HalfEven,
            _ => return bad("unknown rounding"),
        },
        methodology_public_input_days: d.u32()?,
        pdd_public_input_days: d.u32()?,
        outside_list_registration: match d.u8()? {
            0 => OutsideListAtRegistration::Warn,
            1 => OutsideListAtRegistration::Block,
            _ => return bad("unknown policy"),
        },
        outside_list_authorization: match d.u8()? {
            0 => OutsideListAuthorization::Block,
            1 => OutsideListAuthorization::Allow,
            _ => return bad("unknown policy"),
        },
        straddle: crate::encode::straddle_of(d.u8()?)?,
        foreign_issuance: match d.u8()? {
            0 => ForeignIssuance::NotYetAuthorized,
            1 => ForeignIssuance::Unrestricted,
            _ => return bad("unknown policy"),
        },
        remainder: match d.u8()? {
            0 => RemainderPolicy::DesignatedShare,
            1 => RemainderPolicy::LargestShare,
            _ => return bad("unknown policy"),
        },
    })
}

fn put_subject(e: &mut Enc, s: &Subject) {
    match s {
        Subject::ApproveMethodology(m) => {
            e.u8(0);
            put_mref(e, m);
        }
        Subject::RejectMethodology(m) => {
            e.u8(1);
            put_mref(e, m);
        }
        Subject::DesignateTpe(a) => {
            e.u8(2);
            put_actor(e, a);
        }
        Subject::AppointMember { actor, party } => {
            e.u8(3);
            put_actor(e, actor);
            e.party(party);
        }
        Subject::SetActivityList { party, activities } => {
            e.u8(4);
            e.party(party);
            e.len(activities.len());
            for a in activities {
                e.u16(*a);
            }
        }
        Subject::SetPolicy(p) => {
            e.u8(5);
            put_policy(e, p);
        }
        Subject::RegisterProject(p) => {
            e.u8(6);
            e.str(p.as_str());
        }
        Subject::RejectRegistration(p) => {
            e.u8(7);
            e.str(p.as_str());
        }
        Subject::ApproveChange(p) => {
            e.u8(8);
            e.str(p.as_str());
        }
        Subject::RenewCreditingPeriod { project, until } => {
            e.u8(9);
            e.str(project.as_str());
            put_date(e, until);
        }
        Subject::DecideIssuance {
            project,
            period_no,
            quantity,
        } => {
            e.u8(10);
            e.str(project.as_str());
            e.u32(*period_no);
            e.u64(*quantity);
        }
        Subject::RejectIssuance { project, period_no } => {
            e.u8(11);
            e.str(project.as_str());
            e.u32(*period_no);
        }
    }
}

fn get_subject(d: &mut Dec) -> DR<Subject> {
    Ok(match d.u8()? {
        0 => Subject::ApproveMethodology(get_mref(d)?),
        1 => Subject::RejectMethodology(get_mref(d)?),
        2 => Subject::DesignateTpe(get_actor(d)?),
        3 => Subject::AppointMember {
            actor: get_actor(d)?,
            party: d.party()?,
        },
        4 => {
            let party = d.party()?;
            let n = d.count()?;
            let mut activities = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                activities.push(d.u16()?);
            }
            Subject::SetActivityList { party, activities }
        }
        5 => Subject::SetPolicy(get_policy(d)?),
        6 => Subject::RegisterProject(get_project(d)?),
        7 => Subject::RejectRegistration(get_project(d)?),
        8 => Subject::ApproveChange(get_project(d)?),
        9 => Subject::RenewCreditingPeriod {
            project: get_project(d)?,
            until: get_date(d)?,
        },
        10 => Subject::DecideIssuance {
            project: get_project(d)?,
            period_no: d.u32()?,
            quantity: d.u64()?,
        },
        11 => Subject::RejectIssuance {
            project: get_project(d)?,
            period_no: d.u32()?,
        },
        _ => return bad("unknown subject"),
    })
}

fn put_target(e: &mut Enc, t: &InputTarget) {
    match t {
        InputTarget::Methodology(m) => {
            e.u8(0);
            put_mref(e, m);
        }
        InputTarget::Project(p) => {
            e.u8(1);
            e.str(p.as_str());
        }
    }
}

fn get_target(d: &mut Dec) -> DR<InputTarget> {
    Ok(match d.u8()? {
        0 => InputTarget::Methodology(get_mref(d)?),
        1 => InputTarget::Project(get_project(d)?),
        _ => return bad("unknown input target"),
    })
}

fn put_change(e: &mut Enc, c: &Change) {
    e.opt(&c.allocation, put_alloc);
    put_params(e, &c.ex_ante);
}

fn get_change(d: &mut Dec) -> DR<Change> {
    Ok(Change {
        allocation: d.opt(get_alloc)?,
        ex_ante: get_params(d)?,
    })
}

fn put_strings(e: &mut Enc, v: &[String]) {
    e.len(v.len());
    for s in v {
        e.str(s);
    }
}

fn get_strings(d: &mut Dec) -> DR<Vec<String>> {
    let n = d.count()?;
    let mut v = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let s = d.str()?;
        if !valid_code(s) {
            return bad("invalid code");
        }
        v.push(s.to_owned());
    }
    Ok(v)
}

/// Sub-tags of JCM events (inside event tag 70): 0 Appointed, 1 MethodologySubmitted,
/// 2 CompletenessChecked, 3 PublicInputOpened, 4 PublicInputClosed, 5 PinSubmitted,
/// 6 PddSubmitted, 7 Validated, 8 RegistrationRequested, 9 RegistrationRequestWithdrawn,
/// 10 ChangeRequested, 11 RenewalRequested, 12 ProjectWithdrawn, 13 MonitoringReported,
/// 14 Verified, 15 IssuanceRequested, 16 IssuanceRequestWithdrawn, 17 MotionProposed,
/// 18 MotionConcurred, 19 MotionRefused, 20 DecisionAdopted, 21 ProjectFlagged,
/// 22 IssuanceNotified.
pub fn put_event(e: &mut Enc, ev: &JcmEvent) {
    match ev {
        JcmEvent::Appointed { actor, role, by } => {
            e.u8(0);
            put_actor(e, actor);
            put_role(e, role);
            put_actor(e, by);
        }
        JcmEvent::MethodologySubmitted {
            methodology,
            spec_hash,
            document,
            by,
        } => {
            e.u8(1);
            put_mref(e, methodology);
            e.bytes32(spec_hash);
            put_doc(e, document);
            put_actor(e, by);
        }
        JcmEvent::CompletenessChecked {
            methodology,
            complete,
            by,
        } => {
            e.u8(2);
            put_mref(e, methodology);
            e.bool(*complete);
            put_actor(e, by);
        }
        JcmEvent::PublicInputOpened {
            target,
            at,
            closes_not_before,
            by,
        } => {
            e.u8(3);
            put_target(e, target);
            e.i64(at.0);
            e.i64(closes_not_before.0);
            put_actor(e, by);
        }
        JcmEvent::PublicInputClosed { target, by } => {
            e.u8(4);
            put_target(e, target);
            put_actor(e, by);
        }
        JcmEvent::PinSubmitted {
            project,
            host,
            activity,
            participants,
            document,
            by,
        } => {
            e.u8(5);
            e.str(project.as_str());
            e.party(host);
            e.u16(*activity);
            e.len(participants.len());
            for a in participants {
                put_actor(e, a);
            }
            put_doc(e, document);
            put_actor(e, by);
        }
        JcmEvent::PddSubmitted {
            project,
            methodology,
            ex_ante,
            criteria,
            crediting,
            allocation,
            document,
            by,
        } => {
            e.u8(6);
            e.str(project.as_str());
            put_mref(e, methodology);
            put_params(e, ex_ante);
            put_strings(e, criteria);
            e.period(crediting);
            put_alloc(e, allocation);
            put_doc(e, document);
            put_actor(e, by);
        }
        JcmEvent::Validated {
            project,
            positive,
            document,
            by,
        } => {
            e.u8(7);
            e.str(project.as_str());
            e.bool(*positive);
            put_doc(e, document);
            put_actor(e, by);
        }
        JcmEvent::RegistrationRequested {
            project,
            document,
            by,
        } => {
            e.u8(8);
            e.str(project.as_str());
            put_doc(e, document);
            put_actor(e, by);
        }
        JcmEvent::RegistrationRequestWithdrawn { project, by } => {
            e.u8(9);
            e.str(project.as_str());
            put_actor(e, by);
        }
        JcmEvent::ChangeRequested {
            project,
            change,
            document,
            by,
        } => {
            e.u8(10);
            e.str(project.as_str());
            put_change(e, change);
            put_doc(e, document);
            put_actor(e, by);
        }
        JcmEvent::RenewalRequested {
            project,
            until,
            document,
            by,
        } => {
            e.u8(11);
            e.str(project.as_str());
            put_date(e, until);
            put_doc(e, document);
            put_actor(e, by);
        }
        JcmEvent::ProjectWithdrawn {
            project,
            document,
            by,
        } => {
            e.u8(12);
            e.str(project.as_str());
            put_doc(e, document);
            put_actor(e, by);
        }
        JcmEvent::MonitoringReported {
            project,
            period_no,
            period,
            inputs,
            re,
            pe,
            er,
            credited,
            document,
            by,
        } => {
            e.u8(13);
            e.str(project.as_str());
            e.u32(*period_no);
            e.period(period);
            put_params(e, inputs);
            put_dec(e, re);
            put_dec(e, pe);
            put_dec(e, er);
            e.u64(*credited);
            put_doc(e, document);
            put_actor(e, by);
        }
        JcmEvent::Verified {
            project,
            period_no,
            amount,
            document,
            by,
        } => {
            e.u8(14);
            e.str(project.as_str());
            e.u32(*period_no);
            e.u64(*amount);
            put_doc(e, document);
            put_actor(e, by);
        }
        JcmEvent::IssuanceRequested {
            project,
            period_no,
            quantity,
            document,
            by,
        } => {
            e.u8(15);
            e.str(project.as_str());
            e.u32(*period_no);
            e.u64(*quantity);
            put_doc(e, document);
            put_actor(e, by);
        }
        JcmEvent::IssuanceRequestWithdrawn {
            project,
            period_no,
            by,
        } => {
            e.u8(16);
            e.str(project.as_str());
            e.u32(*period_no);
            put_actor(e, by);
        }
        JcmEvent::MotionProposed {
            decision,
            subject,
            party,
            by,
        } => {
            e.u8(17);
            e.str(decision.as_str());
            put_subject(e, subject);
            e.party(party);
            put_actor(e, by);
        }
        JcmEvent::MotionConcurred {
            decision,
            party,
            by,
        } => {
            e.u8(18);
            e.str(decision.as_str());
            e.party(party);
            put_actor(e, by);
        }
        JcmEvent::MotionRefused {
            decision,
            party,
            by,
        } => {
            e.u8(19);
            e.str(decision.as_str());
            e.party(party);
            put_actor(e, by);
        }
        JcmEvent::DecisionAdopted { decision } => {
            e.u8(20);
            e.str(decision.as_str());
        }
        JcmEvent::ProjectFlagged { project, code } => {
            e.u8(21);
            e.str(project.as_str());
            e.u16(code.0);
        }
        JcmEvent::IssuanceNotified {
            decision,
            project,
            host,
            period_no,
            foreign,
            eligible,
            lines,
            by,
        } => {
            e.u8(22);
            e.str(decision.as_str());
            e.str(project.as_str());
            e.party(host);
            e.u32(*period_no);
            e.u8(*foreign as u8);
            e.bool(*eligible);
            e.len(lines.len());
            for l in lines {
                e.registry(&l.registry);
                e.u64(l.account.0);
                e.period(&l.period);
                e.u64(l.quantity);
                e.u64(l.unit_start);
            }
            put_actor(e, by);
        }
    }
}

pub fn get_event(d: &mut Dec) -> DR<JcmEvent> {
    Ok(match d.u8()? {
        0 => JcmEvent::Appointed {
            actor: get_actor(d)?,
            role: get_role(d)?,
            by: get_actor(d)?,
        },
        1 => JcmEvent::MethodologySubmitted {
            methodology: get_mref(d)?,
            spec_hash: d.bytes32()?,
            document: get_doc(d)?,
            by: get_actor(d)?,
        },
        2 => JcmEvent::CompletenessChecked {
            methodology: get_mref(d)?,
            complete: d.bool()?,
            by: get_actor(d)?,
        },
        3 => JcmEvent::PublicInputOpened {
            target: get_target(d)?,
            at: Timestamp(d.i64()?),
            closes_not_before: Timestamp(d.i64()?),
            by: get_actor(d)?,
        },
        4 => JcmEvent::PublicInputClosed {
            target: get_target(d)?,
            by: get_actor(d)?,
        },
        5 => {
            let project = get_project(d)?;
            let host = d.party()?;
            let activity = d.u16()?;
            let n = d.count()?;
            let mut participants = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                participants.push(get_actor(d)?);
            }
            JcmEvent::PinSubmitted {
                project,
                host,
                activity,
                participants,
                document: get_doc(d)?,
                by: get_actor(d)?,
            }
        }
        6 => JcmEvent::PddSubmitted {
            project: get_project(d)?,
            methodology: get_mref(d)?,
            ex_ante: get_params(d)?,
            criteria: get_strings(d)?,
            crediting: d.period()?,
            allocation: get_alloc(d)?,
            document: get_doc(d)?,
            by: get_actor(d)?,
        },
        7 => JcmEvent::Validated {
            project: get_project(d)?,
            positive: d.bool()?,
            document: get_doc(d)?,
            by: get_actor(d)?,
        },
        8 => JcmEvent::RegistrationRequested {
            project: get_project(d)?,
            document: get_doc(d)?,
            by: get_actor(d)?,
        },
        9 => JcmEvent::RegistrationRequestWithdrawn {
            project: get_project(d)?,
            by: get_actor(d)?,
        },
        10 => JcmEvent::ChangeRequested {
            project: get_project(d)?,
            change: get_change(d)?,
            document: get_doc(d)?,
            by: get_actor(d)?,
        },
        11 => JcmEvent::RenewalRequested {
            project: get_project(d)?,
            until: get_date(d)?,
            document: get_doc(d)?,
            by: get_actor(d)?,
        },
        12 => JcmEvent::ProjectWithdrawn {
            project: get_project(d)?,
            document: get_doc(d)?,
            by: get_actor(d)?,
        },
        13 => JcmEvent::MonitoringReported {
            project: get_project(d)?,
            period_no: d.u32()?,
            period: d.period()?,
            inputs: get_params(d)?,
            re: get_dec(d)?,
            pe: get_dec(d)?,
            er: get_dec(d)?,
            credited: d.u64()?,
            document: get_doc(d)?,
            by: get_actor(d)?,
        },
        14 => JcmEvent::Verified {
            project: get_project(d)?,
            period_no: d.u32()?,
            amount: d.u64()?,
            document: get_doc(d)?,
            by: get_actor(d)?,
        },
        15 => JcmEvent::IssuanceRequested {
            project: get_project(d)?,
            period_no: d.u32()?,
            quantity: d.u64()?,
            document: get_doc(d)?,
            by: get_actor(d)?,
        },
        16 => JcmEvent::IssuanceRequestWithdrawn {
            project: get_project(d)?,
            period_no: d.u32()?,
            by: get_actor(d)?,
        },
        17 => JcmEvent::MotionProposed {
            decision: get_decision(d)?,
            subject: get_subject(d)?,
            party: d.party()?,
            by: get_actor(d)?,
        },
        18 => JcmEvent::MotionConcurred {
            decision: get_decision(d)?,
            party: d.party()?,
            by: get_actor(d)?,
        },
        19 => JcmEvent::MotionRefused {
            decision: get_decision(d)?,
            party: d.party()?,
            by: get_actor(d)?,
        },
        20 => JcmEvent::DecisionAdopted {
            decision: get_decision(d)?,
        },
        21 => JcmEvent::ProjectFlagged {
            project: get_project(d)?,
            code: Code(d.u16()?),
        },
        22 => {
            let decision = get_decision(d)?;
            let project = get_project(d)?;
            let host = d.party()?;
            let period_no = d.u32()?;
            let foreign = match d.u8()? {
                0 => ForeignIssuance::NotYetAuthorized,
                1 => ForeignIssuance::Unrestricted,
                _ => return bad("unknown policy"),
            };
            let eligible = d.bool()?;
            let n = d.count()?;
            let mut lines = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                lines.push(IssuanceLine {
                    registry: d.registry()?,
                    account: AccountId(d.u64()?),
                    period: d.period()?,
                    quantity: d.u64()?,
                    unit_start: d.u64()?,
                });
            }
            JcmEvent::IssuanceNotified {
                decision,
                project,
                host,
                period_no,
                foreign,
                eligible,
                lines,
                by: get_actor(d)?,
            }
        }
        _ => return bad("unknown JCM event"),
    })
}
