//! The link's state machines (LINK.md §7.6 mode B), driven by hand between two registries.
mod support;
use support::*;
use tanso_core::link::*;
use tanso_core::registry::RegistryState;
use tanso_core::*;

fn jpn01() -> RegistryId {
    RegistryId::parse("JPN01").unwrap()
}

fn receiver() -> RegistryState {
    let mut s = RegistryState::new();
    ok(
        &mut s,
        Command::OpenRegistry {
            registry: jpn01(),
            straddle: StraddlePolicy::ProRataDaysRemainderLast,
        },
    );
    ok(
        &mut s,
        Command::RegisterHolder {
            holder: HolderId(1),
            kind: HolderKind::parse("government").unwrap(),
            name: PersonalRef([1; 32]),
        },
    );
    for (a, k) in [
        (2001, "party-holding"),
        (2002, "entity-holding"),
        (2099, "suspense"),
    ] {
        ok(
            &mut s,
            Command::OpenAccount {
                account: AccountId(a),
                holder: HolderId(1),
                kind: kind(k),
            },
        );
    }
    s
}

fn out(s: &mut RegistryState, q: u64, to: u64) -> TransferId {
    let ev = ok(
        s,
        Command::TransferOut {
            from: AccountId(1),
            to_registry: jpn01(),
            to_account: AccountId(to),
            units: by_quantity(q),
            decide_by: Timestamp(T0.0 + 1_000_000),
        },
    );
    match &ev[0] {
        Event::TransferProposed { proposal, .. } => proposal.transfer_id.clone(),
        e => panic!("unexpected {e:?}"),
    }
}

/// Delivers `env` to `s` and returns its replies.
fn deliver(s: &mut RegistryState, env: &Envelope) -> Vec<Envelope> {
    ok(s, Command::ReceiveLink(env.clone()));
    s.link_replies(env)
}

fn owned(s: &RegistryState) -> u64 {
    s.blocks().iter().map(|b| b.range.len()).sum()
}

#[test]
fn a_committed_transfer_debits_the_sender_then_credits_the_receiver() {
    let (mut s, mut r) = (registry(), receiver());
    issue(&mut s, 1, 1000, 2026);
    let id = out(&mut s, 300, 2002);
    assert_eq!(
        s.holds().len(),
        1,
        "units reserved under a cross-registry hold"
    );
    let propose = s.link_outbox();
    assert_eq!(propose.len(), 1);
    let accept = deliver(&mut r, &propose[0]);
    assert!(matches!(accept[0].message, LinkMessage::Accept { .. }));
    assert_eq!(r.link().pending.total(), 300);
    assert_eq!(owned(&r), 0, "pending is not owned");
    let decision = deliver(&mut s, &accept[0]);
    assert!(
        matches!(&decision[0].message, LinkMessage::Decision(d) if d.verdict == Verdict::Commit)
    );
    assert_eq!(owned(&s), 700, "debited in the decision's entry");
    assert!(s.holds().is_empty());
    let ack = deliver(&mut r, &decision[0]);
    assert_eq!(owned(&r), 300);
    assert_eq!(held_ranges(&r, 2002).len(), 1);
    assert_eq!(
        r.holdings(AccountId(2002))[0].range,
        SerialRange::new(701, 1000).unwrap()
    );
    assert_eq!(r.holdings(AccountId(2002))[0].issuing, ind01());
    deliver(&mut s, &ack[0]);
    assert!(s.link().outbound[&id].settled);
    assert!(s.link_outbox().is_empty() && r.link_outbox().is_empty());
    s.check_invariants().unwrap();
    r.check_invariants().unwrap();
}

#[test]
fn duplicated_and_late_messages_change_nothing_a_second_time() {
    let (mut s, mut r) = (registry(), receiver());
    issue(&mut s, 1, 100, 2026);
    out(&mut s, 40, 2002);
    let propose = s.link_outbox().remove(0);
    let accept = deliver(&mut r, &propose);
    let r_hash = r.state_hash();
    assert_eq!(
        deliver(&mut r, &propose),
        accept,
        "same answer to a duplicate proposal"
    );
    assert_eq!(r.state_hash(), r_hash);
    let decision = deliver(&mut s, &accept[0]);
    let s_hash = s.state_hash();
    assert_eq!(
        deliver(&mut s, &accept[0]),
        decision,
        "stored decision re-sent"
    );
    assert_eq!(s.state_hash(), s_hash);
    let ack = deliver(&mut r, &decision[0]);
    let r_hash = r.state_hash();
    assert_eq!(deliver(&mut r, &decision[0]), ack);
    assert_eq!(r.state_hash(), r_hash, "credited once");
    assert_eq!(owned(&r), 40);
}

#[test]
fn a_rejected_proposal_releases_the_hold_and_serials_present_are_3033() {
    let (mut s, mut r) = (registry(), receiver());
    issue(&mut s, 1, 100, 2026);
    // Account 9999 does not exist at the receiver: rejected with 2002.
    out(&mut s, 10, 9999);
    let propose = s.link_outbox().remove(0);
    let reject = deliver(&mut r, &propose);
    match &reject[0].message {
        LinkMessage::Reject { codes, .. } => assert_eq!(codes, &vec![Code::TO_ACCOUNT_UNKNOWN]),
        m => panic!("{m:?}"),
    }
    let decision = deliver(&mut s, &reject[0]);
    assert!(
        matches!(&decision[0].message, LinkMessage::Decision(d) if d.status == TransferStatus::Rejected)
    );
    assert!(s.holds().is_empty());
    assert_eq!(owned(&s), 100);
    // Serials already present at the receiver: 3033.
    let mut p2 = match &propose.message {
        LinkMessage::Propose(p) => p.clone(),
        _ => unreachable!(),
    };
    p2.to_account = AccountId(2002);
    let id2 = out(&mut s, 10, 2002);
    let first = s
        .link_outbox()
        .into_iter()
        .find(|e| e.message.transfer_id() == &id2)
        .unwrap();
    let accept = deliver(&mut r, &first);
    assert!(matches!(accept[0].message, LinkMessage::Accept { .. }));
    p2.transfer_id = TransferId::new(ind01(), 77);
    let clash = Envelope {
        from: ind01(),
        to: jpn01(),
        message: LinkMessage::Propose(p2),
    };
    match &deliver(&mut r, &clash)[0].message {
        LinkMessage::Reject { codes, .. } => {
            assert!(codes.contains(&Code::SERIALS_ALREADY_PRESENT), "{codes:?}")
        }
        m => panic!("{m:?}"),
    }
}

#[test]
fn the_coordinator_aborts_on_its_clock_only_before_acceptance_and_a_late_proposal_never_commits() {
    let (mut s, mut r) = (registry(), receiver());
    issue(&mut s, 1, 100, 2026);
    out(&mut s, 10, 2002);
    let propose = s.link_outbox().remove(0);
    // The proposal is delayed; the coordinator times out and aborts (status 7).
    let ev = ok(
        &mut s,
        Command::ExpireTransfers {
            now: Timestamp(T0.0 + 2_000_000),
        },
    );
    assert!(matches!(&ev[0], Event::TransferDecided(d) if d.status == TransferStatus::Cancelled));
    assert_eq!(owned(&s), 100);
    assert!(s.holds().is_empty());
    // The abort reaches the receiver first: it keeps a tombstone.
    let abort = s.link_outbox().remove(0);
    deliver(&mut r, &abort);
    // The late proposal is refused with 4504 and nothing is pending.
    match &deliver(&mut r, &propose)[0].message {
        LinkMessage::Reject { codes, .. } => assert_eq!(codes, &vec![Code::PROPOSE_AFTER_ABORT]),
        m => panic!("{m:?}"),
    }
    assert!(r.link().pending.is_empty());
    // A late Accept at the coordinator gets the stored ABORT, never a commit.
    let late_accept = Envelope {
        from: jpn01(),
        to: ind01(),
        message: LinkMessage::Accept {
            transfer_id: propose.message.transfer_id().clone(),
            propose_hash: match &propose.message {
                LinkMessage::Propose(p) => p.hash(),
                _ => unreachable!(),
            },
        },
    };
    let again = deliver(&mut s, &late_accept);
    assert!(matches!(&again[0].message, LinkMessage::Decision(d) if d.verdict == Verdict::Abort));
    assert_eq!(owned(&s), 100);
}

#[test]
fn a_commit_for_an_unknown_transfer_raises_4503_and_never_credits() {
    let (mut s, mut r) = (registry(), receiver());
    issue(&mut s, 1, 100, 2026);
    out(&mut s, 10, 2002);
    let propose = s.link_outbox().remove(0);
    let accept = deliver(&mut r.clone(), &propose); // accepted by a copy: r itself never saw it
    let decision = deliver(&mut s, &accept[0]);
    let replies = deliver(&mut r, &decision[0]);
    assert!(matches!(
        replies[0].message,
        LinkMessage::StatusQuery { .. }
    ));
    assert_eq!(r.link().alarms.len(), 1);
    assert_eq!(r.link().alarms[0].1, Code::DECISION_CONFLICT);
    assert_eq!(owned(&r), 0);
}

#[test]
fn an_account_frozen_after_acceptance_is_credited_and_a_closed_one_goes_to_suspense() {
    let (mut s, mut r) = (registry(), receiver());
    issue(&mut s, 1, 100, 2026);
    ok(
        &mut r,
        Command::SetSuspenseAccount {
            account: AccountId(2099),
        },
    );
    out(&mut s, 10, 2002);
    out(&mut s, 20, 2001);
    for p in s.link_outbox() {
        let a = deliver(&mut r, &p);
        let d = deliver(&mut s, &a[0]);
        assert!(matches!(&d[0].message, LinkMessage::Decision(x) if x.verdict == Verdict::Commit));
    }
    ok(
        &mut r,
        Command::SetAccountStatus {
            account: AccountId(2002),
            status: AccountStatus::Frozen,
        },
    );
    ok(
        &mut r,
        Command::SetAccountStatus {
            account: AccountId(2001),
            status: AccountStatus::Closed,
        },
    );
    for d in s.link_outbox() {
        deliver(&mut r, &d);
    }
    assert_eq!(
        r.holdings(AccountId(2002))
            .iter()
            .map(|b| b.range.len())
            .sum::<u64>(),
        10,
        "credited and held by the freeze"
    );
    assert_eq!(
        r.holdings(AccountId(2099))
            .iter()
            .map(|b| b.range.len())
            .sum::<u64>(),
        20,
        "closed: to suspense"
    );
    r.check_invariants().unwrap();
}

#[test]
fn envelopes_round_trip_through_their_bytes() {
    let mut s = registry();
    issue(&mut s, 1, 100, 2026);
    out(&mut s, 10, 2002);
    let e = s.link_outbox().remove(0);
    let bytes = e.encode();
    assert_eq!(Envelope::decode(&bytes).unwrap(), e);
    assert_eq!(e.msg_id().len(), 32);
    assert!(Envelope::decode(&bytes[..bytes.len() - 1]).is_err());
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(Envelope::decode(&extra).is_err());
}

#[test]
fn a_proposal_whose_quantity_or_attributes_disagree_is_rejected_with_2511_and_3032() {
    let (mut s, mut r) = (registry(), receiver());
    issue(&mut s, 1, 100, 2026);
    out(&mut s, 10, 2002);
    let LinkMessage::Propose(p) = s.link_outbox().remove(0).message else {
        unreachable!()
    };
    let mut wrong_sum = p.clone();
    wrong_sum.transfer_id = TransferId::new(ind01(), 50);
    wrong_sum.quantity = 11;
    let mut wrong_attrs = p.clone();
    wrong_attrs.transfer_id = TransferId::new(ind01(), 51);
    wrong_attrs.blocks[0].attributes.issuing = jpn01();
    for (p, code) in [
        (wrong_sum, Code::QUANTITY_MISMATCH),
        (wrong_attrs, Code::ATTRIBUTES_DISAGREE),
    ] {
        let env = Envelope {
            from: ind01(),
            to: jpn01(),
            message: LinkMessage::Propose(p),
        };
        match &deliver(&mut r, &env)[0].message {
            LinkMessage::Reject { codes, .. } => assert_eq!(codes, &vec![code]),
            m => panic!("{m:?}"),
        }
    }
    assert!(r.link().pending.is_empty());
}
