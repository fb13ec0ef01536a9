//! Who may submit which command, and which commands wait for a second person.
//!
//! The decision is a pure function of the user's grants, the parsed command, the access
//! controls (limits, trusted lists, policies) and the time; the HTTP layer only carries it out.
//! The mechanism chains check the actor's precise role themselves (8001): here a mechanism
//! grant only lets a user speak on that chain.

use super::access::{Access, Role, User};
use tanso_core::article6::authority::A6Command;
use tanso_core::{ChainId, Command, UnitSelection};

/// What may happen to a submitted command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Denied(String),
    /// Allowed once another person approves: why, and the account whose representatives may
    /// approve it (none: officers or authorities of the chain).
    NeedsApproval {
        reason: String,
        account: Option<u64>,
    },
}

fn has(user: &User, roles: &[Role], chain: &str) -> bool {
    user.grants
        .iter()
        .any(|g| roles.contains(&g.role) && g.covers_chain(chain))
}

fn represents(user: &User, registry: &str, account: u64, approve: bool) -> bool {
    user.grants.iter().any(|g| {
        g.role == Role::AccountRepresentative
            && g.covers_account(registry, account)
            && if approve { g.approve } else { g.initiate }
    })
}

const ADMIN: &[Role] = &[Role::RegistryAdmin];
const OFFICER: &[Role] = &[Role::RegistryOfficer, Role::RegistryAdmin];
const MECHANISM: &[Role] = &[
    Role::JcMember,
    Role::Verifier,
    Role::Participant,
    Role::RegistryAdmin,
];
const AUTHORITY: &[Role] = &[Role::NationalAuthority];

fn quantity_of(units: &UnitSelection) -> u64 {
    match units {
        UnitSelection::Quantity { quantity, .. } => quantity.get(),
        UnitSelection::Ranges(rs) => rs
            .iter()
            .map(|r| r.range.len())
            .fold(0u64, u64::saturating_add),
    }
}

/// The verdict on `cmd` for `chain` submitted by `user` at `now_micros`.
pub fn judge(access: &Access, user: &User, chain: &ChainId, cmd: &Command, now: i64) -> Verdict {
    let chain_s = chain.to_string();
    let deny = |what: &str| Verdict::Denied(format!("{} may not {what} on {chain_s}", user.id));
    let gate = |roles: &[Role], what: &str| {
        if has(user, roles, &chain_s) {
            Verdict::Allowed
        } else {
            deny(what)
        }
    };
    match chain {
        ChainId::Registry(_) => judge_registry(access, user, &chain_s, cmd, now),
        ChainId::Mechanism(_) => match cmd {
            Command::OpenMechanism { .. } | Command::RecordDecision { .. } => {
                gate(ADMIN, cmd.name())
            }
            Command::Jcm(_) | Command::Ccts(_) => gate(MECHANISM, cmd.name()),
            _ => deny(cmd.name()),
        },
        ChainId::PartyAuthority(_) => match cmd {
            Command::OpenPartyAuthority { .. } => {
                if has(user, ADMIN, &chain_s) || has(user, AUTHORITY, &chain_s) {
                    Verdict::Allowed
                } else {
                    deny(cmd.name())
                }
            }
            Command::A6(a) => match gate(AUTHORITY, cmd.name()) {
                Verdict::Allowed
                    if matches!(&**a, A6Command::Authorize(_))
                        && access.policies.approve_authorization =>
                {
                    Verdict::NeedsApproval {
                        reason: "an authorization needs a second national authority".into(),
                        account: None,
                    }
                }
                v => v,
            },
            _ => deny(cmd.name()),
        },
    }
}

fn judge_registry(access: &Access, user: &User, chain: &str, cmd: &Command, now: i64) -> Verdict {
    let deny = |what: &str| Verdict::Denied(format!("{} may not {what} on {chain}", user.id));
    let gate = |roles: &[Role]| {
        if has(user, roles, chain) {
            Verdict::Allowed
        } else {
            deny(cmd.name())
        }
    };
    let initiates = |from: u64| {
        if represents(user, chain, from, false) {
            Verdict::Allowed
        } else {
            Verdict::Denied(format!(
                "{} does not represent account {from} of {chain} (initiate)",
                user.id
            ))
        }
    };
    match cmd {
        Command::OpenRegistry { .. }
        | Command::SetStraddlePolicy(_)
        | Command::DefineUnitKind { .. }
        | Command::DefineAccountKind { .. }
        | Command::DefineCurrency { .. }
        | Command::RegisterHolder { .. }
        | Command::OpenAccount { .. }
        | Command::SetSuspenseAccount { .. }
        | Command::SetCertificateValidity { .. }
        | Command::RecordDecision { .. } => gate(ADMIN),
        Command::SetAccountStatus { .. }
        | Command::SetLabels { .. }
        | Command::PlaceHold { .. }
        | Command::ReleaseHold { .. }
        | Command::PostHold { .. }
        | Command::ExpireHolds { .. }
        | Command::DepositCash { .. }
        | Command::WithdrawCash { .. }
        | Command::Correct { .. }
        | Command::ExpireTransfers { .. }
        | Command::CancelTransfer { .. }
        | Command::ExpireCertificates { .. } => gate(OFFICER),
        Command::Issue { .. }
        | Command::IssueFromDecision { .. }
        | Command::IssueCertificates { .. } => match gate(OFFICER) {
            Verdict::Allowed if access.policies.approve_issuance => Verdict::NeedsApproval {
                reason: "an issuance needs a second officer".into(),
                account: None,
            },
            v => v,
        },
        Command::ApplyAuthorization { .. } => match gate(OFFICER) {
            Verdict::Allowed if access.policies.approve_authorization => Verdict::NeedsApproval {
                reason: "applying an authorization needs a second officer".into(),
                account: None,
            },
            v => v,
        },
        Command::Transfer { from, to, units } => match initiates(from.0) {
            Verdict::Allowed => {
                controls(access, chain, from.0, Some(to.0), quantity_of(units), now)
            }
            v => v,
        },
        Command::TransferOut { from, units, .. } => match initiates(from.0) {
            Verdict::Allowed => controls(access, chain, from.0, None, quantity_of(units), now),
            v => v,
        },
        Command::Retire { from, units, .. }
        | Command::Cancel { from, units, .. }
        | Command::SurrenderCertificates { from, units, .. }
        | Command::UseTowardsNdc { from, units, .. } => match initiates(from.0) {
            // Units leave for a terminal account: the limit applies, the trusted list does not.
            Verdict::Allowed => controls(access, chain, from.0, None, quantity_of(units), now),
            v => v,
        },
        Command::TransferCash { from, .. } => initiates(from.0),
        Command::MultiLeg(legs) => {
            let mut out = Verdict::Allowed;
            for leg in legs {
                match judge_registry(access, user, chain, leg, now) {
                    Verdict::Allowed => {}
                    d @ Verdict::Denied(_) => return d,
                    n @ Verdict::NeedsApproval { .. } => out = n,
                }
            }
            out
        }
        Command::ReceiveLink(_) => deny("submit link messages (the link's own endpoint does)"),
        _ => deny(cmd.name()),
    }
}

/// Per-transaction limits and the trusted-account list (EU registry controls).
fn controls(
    access: &Access,
    registry: &str,
    from: u64,
    to: Option<u64>,
    quantity: u64,
    now: i64,
) -> Verdict {
    // (Each lookup copies the registry's name into a key: skipped while no limit is set.)
    let limit = if access.limits.is_empty() {
        None
    } else {
        access.limits.get(&(registry.to_owned(), from))
    };
    if let Some(limit) = limit {
        if quantity > *limit {
            return Verdict::NeedsApproval {
                reason: format!("{quantity} units exceed account {from}'s limit of {limit}"),
                account: Some(from),
            };
        }
    }
    if let Some(to) = to {
        if !access.is_trusted(registry, from, to, now) {
            match access.policies.outside_trusted_list.as_str() {
                "allow" => {}
                "reject" => {
                    return Verdict::Denied(format!(
                        "account {to} is not on account {from}'s trusted list (or still in its delay)"
                    ))
                }
                _ => {
                    return Verdict::NeedsApproval {
                        reason: format!(
                            "account {to} is not on account {from}'s trusted list (or still in its delay)"
                        ),
                        account: Some(from),
                    }
                }
            }
        }
    }
    Verdict::Allowed
}

/// Whether `user` may approve a request of `maker` for `chain` (and `account`). Never one's
/// own request.
pub fn may_approve(user: &User, maker: &str, chain: &str, account: Option<u64>) -> bool {
    if user.id == maker {
        return false;
    }
    match account {
        Some(a) => represents(user, chain, a, true) || has(user, OFFICER, chain),
        None => {
            if chain.starts_with("party:") {
                has(user, AUTHORITY, chain)
            } else {
                has(user, OFFICER, chain)
            }
        }
    }
}

/// Whether `user` may read the data of `account` of `registry`.
pub fn may_read_account(user: &User, registry: &str, account: u64) -> bool {
    has(
        user,
        &[Role::RegistryAdmin, Role::RegistryOfficer, Role::Auditor],
        registry,
    ) || user
        .grants
        .iter()
        .any(|g| g.role == Role::AccountRepresentative && g.covers_account(registry, account))
}

/// Whether `user` holds one of `roles` over `chain` (or over everything).
pub fn has_role(user: &User, roles: &[Role], chain: &str) -> bool {
    has(user, roles, chain)
}
