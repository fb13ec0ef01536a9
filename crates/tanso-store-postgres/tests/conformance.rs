//! The storage conformance suite on a real PostgreSQL server, as the service role, and the
//! guarantees only a shared server needs: privileges and triggers that keep the journal
//! append-only, and fencing of a stalled writer by a second instance.

use tanso_store::conformance::{self, batch_of, head, run_of, Harness};
use tanso_store::{Store, StoreError};
use tanso_store_postgres::testing::{owner_url, service_url, TempSchema};
use tanso_store_postgres::{PgOptions, PgStore};

struct SchemaHarness {
    schemas: Vec<TempSchema>,
}

impl Harness for SchemaHarness {
    type S = PgStore;

    fn fresh(&mut self) -> PgStore {
        let schema = TempSchema::new("tconf");
        let store = schema.open();
        self.schemas.push(schema);
        store
    }

    fn reopen(&mut self, s: PgStore) -> PgStore {
        let options = PgOptions {
            schema: s.schema().to_string(),
            ..PgOptions::default()
        };
        drop(s);
        PgStore::open_with(&service_url(), &options).expect("reopen store")
    }
}

#[test]
fn postgresql_as_service_role_passes_conformance() {
    let mut harness = SchemaHarness {
        schemas: Vec::new(),
    };
    for (name, check) in conformance::checks::<SchemaHarness>() {
        eprintln!("conformance on postgresql: {name}");
        check(&mut harness);
    }
}

fn owner() -> postgres::Client {
    postgres::Client::connect(&owner_url(), postgres::NoTls).expect("connect as owner")
}

fn service() -> postgres::Client {
    postgres::Client::connect(&service_url(), postgres::NoTls).expect("connect as service")
}

#[test]
fn journal_rows_cannot_be_changed_by_the_service_role_nor_by_the_owner() {
    let schema = TempSchema::new("tappend");
    let mut store = schema.open();
    let epoch = store.acquire_writer().expect("acquire");
    let mut batch = batch_of(epoch, vec![run_of("alpha", 1, 3)]);
    batch.rejections = vec![conformance::rejection_of("cmd-1")];
    batch.checkpoints = vec![conformance::checkpoint_of("alpha", 3)];
    store.commit(&batch).expect("commit");
    let s = &schema.name;
    let mut svc = service();
    for table in ["runs", "rejections", "checkpoints"] {
        for sql in [
            format!("UPDATE {s}.{table} SET body = body"),
            format!("DELETE FROM {s}.{table}"),
            format!("TRUNCATE {s}.{table}"),
        ] {
            let err = svc.batch_execute(&sql).expect_err(&sql);
            let code = err.code().map(|c| c.code().to_string());
            assert_eq!(
                code.as_deref(),
                Some("42501"),
                "service role: {sql}: want permission denied, got {err}"
            );
        }
    }
    // The service role owns nothing in the schema.
    let owned: i64 = svc
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND pg_get_userbyid(c.relowner) = current_user",
            &[&s],
        )
        .expect("count owned")
        .get(0);
    assert_eq!(owned, 0, "the service role owns no table");
    let mut own = owner();
    for table in ["runs", "rejections", "checkpoints"] {
        for sql in [
            format!("UPDATE {s}.{table} SET body = body"),
            format!("DELETE FROM {s}.{table}"),
            format!("TRUNCATE {s}.{table}"),
        ] {
            let err = own.batch_execute(&sql).expect_err(&sql);
            let code = err.code().map(|c| c.code().to_string());
            assert_eq!(
                code.as_deref(),
                Some("TN009"),
                "owner: {sql}: want the append-only trigger, got {err}"
            );
        }
    }
    // Nothing changed, and the service role can still append.
    let store = schema.open();
    assert_eq!(store.heads().expect("heads"), vec![head("alpha", 3)]);
    assert!(store.rejection("cmd-1").expect("rejection").is_some());
    assert_eq!(store.checkpoints("alpha").expect("checkpoints").len(), 1);
}

/// The pid of the session holding the writer lock of a schema, if any.
fn lock_holder(client: &mut postgres::Client, schema: &str) -> Option<i32> {
    let key = tanso_store_postgres::writer_lock_key(schema) as u64;
    let (high, low) = ((key >> 32) as u32, (key & 0xffff_ffff) as u32);
    client
        .query_opt(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
             AND classid::text::bigint = $1 AND objid::text::bigint = $2 AND objsubid = 1",
            &[&i64::from(high), &i64::from(low)],
        )
        .expect("read pg_locks")
        .map(|row| row.get(0))
}

#[test]
fn a_second_instance_waits_for_the_lock_then_fences_the_stalled_writer() {
    let schema = TempSchema::new("tfence");
    let mut a = schema.open();
    let mut b = schema.open();
    let ea = a.acquire_writer().expect("a becomes the writer");
    assert!(a.is_leader());
    assert!(
        matches!(b.acquire_writer(), Err(StoreError::WriterHeld(_))),
        "b must not become the writer while a holds the lock"
    );
    let first = run_of("alpha", 1, 2);
    a.commit(&batch_of(ea, vec![first.clone()]))
        .expect("a commits");
    // a stalls; the server ends its lock session (as idle_session_timeout does after the
    // lease). Then b takes over.
    let mut own = owner();
    let pid = lock_holder(&mut own, &schema.name).expect("a's lock session holds the lock");
    own.execute("SELECT pg_terminate_backend($1)", &[&pid])
        .expect("terminate");
    let mut eb = None;
    for _ in 0..100 {
        match b.acquire_writer() {
            Ok(e) => {
                eb = Some(e);
                break;
            }
            Err(StoreError::WriterHeld(_)) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("b acquire: {e}"),
        }
    }
    let eb = eb.expect("b became the writer after a's lock session ended");
    assert!(eb > ea);
    // The stalled writer resumes: it cannot append, even a run that continues the chain.
    let stale = a.commit(&batch_of(ea, vec![run_of("alpha", 3, 4)]));
    assert_eq!(
        stale,
        Err(StoreError::Fenced {
            ours: ea,
            current: eb
        })
    );
    b.commit(&batch_of(eb, vec![run_of("alpha", 3, 4)]))
        .expect("b appends");
    assert_eq!(b.heads().expect("heads"), vec![head("alpha", 4)]);
    assert!(
        lock_holder(&mut own, &schema.name).is_some(),
        "b holds the lock"
    );
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    assert!(
        !a.is_leader(),
        "a's lease thread noticed that it lost the lock"
    );
    assert!(b.is_leader());
}

#[test]
fn open_refuses_an_unmigrated_schema_and_migrate_is_idempotent() {
    let err = PgStore::open_with(
        &service_url(),
        &PgOptions {
            schema: "tanso_never_migrated".into(),
            ..PgOptions::default()
        },
    )
    .expect_err("unmigrated");
    assert!(err.to_string().contains("tanso migrate"), "{err}");
    let schema = TempSchema::new("tmig");
    let again = tanso_store_postgres::migrate(&owner_url(), &schema.name, "tanso_service")
        .expect("migrate again");
    assert_eq!((again.from_version, again.to_version), (1, 1));
    let bad = tanso_store_postgres::migrate(&owner_url(), "Bad;Name", "tanso_service");
    assert!(bad.is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Any sequence of operations (seeded) gives the same answers and the same store on
    /// PostgreSQL as on the in-memory model.
    #[test]
    fn postgresql_agrees_with_the_model(seed in proptest::prelude::any::<u64>()) {
        let schema = TempSchema::new("tmodel");
        let mut store = schema.open();
        conformance::agrees_with_memory(&mut store, seed, 60);
    }
}
