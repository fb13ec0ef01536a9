//! Decoders of everything that arrives from outside (stored entries, link messages, stored
//! checkpoints) never panic: arbitrary bytes and mutated valid encodings are refused or
//! decoded, never a crash. Valid encodings round-trip exactly.
mod support;
use proptest::prelude::*;
use support::*;
use tanso_core::entry::{split_run, Entry};
use tanso_core::link::Envelope;
use tanso_core::*;

fn sample_entry() -> Entry {
    let mut s = registry();
    let mut events = issue(&mut s, 1, 100, 2026);
    // A transfer's ranges in two runs, one going back below the one before it.
    let range = |r: &str, start, end| IssuedRange {
        issuing: RegistryId::parse(r).unwrap(),
        range: SerialRange::new(start, end).unwrap(),
    };
    events.push(Event::Transferred {
        from: AccountId(1),
        to: AccountId(2),
        ranges: vec![
            range("IND01", 1, 10),
            range("IND01", 300, 299_999),
            range("IND01", 20, 20),
            range("JPN01", u64::MAX - 5, u64::MAX),
        ],
    });
    Entry {
        chain: ChainId::parse("IND01").unwrap(),
        seq: 12,
        time: T0,
        actor: Actor::parse("officer").unwrap(),
        command_id: CommandId::parse("c-1").unwrap(),
        command_hash: [5; 32],
        prev_hash: [6; 32],
        events,
    }
}

fn sample_envelope() -> Envelope {
    let mut s = registry();
    issue(&mut s, 1, 100, 2026);
    ok(
        &mut s,
        Command::TransferOut {
            from: AccountId(1),
            to_registry: RegistryId::parse("JPN01").unwrap(),
            to_account: AccountId(2),
            units: by_quantity(10),
            decide_by: T0,
        },
    );
    s.link_outbox().remove(0)
}

#[test]
fn valid_encodings_round_trip() {
    let e = sample_entry();
    assert_eq!(Entry::decode_body(&e.body()).unwrap(), e);
    let env = sample_envelope();
    assert_eq!(Envelope::decode(&env.encode()).unwrap(), env);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_a_decoder(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = Entry::decode_body(&bytes);
        let _ = split_run(&bytes);
        let _ = Envelope::decode(&bytes);
        let _ = tanso_core::checkpoint::SignedCheckpoint::decode(&bytes);
    }

    #[test]
    fn mutated_entries_and_messages_never_panic_and_are_never_silently_equal(
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        cut in any::<prop::sample::Index>(),
    ) {
        let e = sample_entry();
        let mut body = e.body();
        let i = at.index(body.len());
        body[i] ^= flip;
        if let Ok(d) = Entry::decode_body(&body) {
            prop_assert_ne!(d, e.clone(), "a changed byte decoded to the same entry");
        }
        let mut short = e.body();
        short.truncate(cut.index(short.len()));
        prop_assert!(Entry::decode_body(&short).is_err(), "a truncated entry decoded");

        let env = sample_envelope();
        let mut bytes = env.encode();
        let j = at.index(bytes.len());
        bytes[j] ^= flip;
        if let Ok(d) = Envelope::decode(&bytes) {
            prop_assert_ne!(d, env.clone());
        }
        let mut short = env.encode();
        short.truncate(cut.index(short.len()));
        prop_assert!(Envelope::decode(&short).is_err(), "a truncated message decoded");
    }
}
