//! The PostgreSQL store: the `tanso_store::Store` contract on a PostgreSQL server, for
//! production. It owns the SQL schema, its migration, the roles' privileges, and writer
//! leadership; it must not interpret entry bodies (projections for reporting tools are written
//! by the edge, through [`PgStore::projection_client`]).
//!
//! Schema (version 1, in one PostgreSQL schema, `tanso` by default; `migrate` makes it):
//! - `runs(chain, first_seq, last_seq, prev_hash, head_hash, epoch, body, committed_at)`, one
//!   row per run of entries, primary key `(chain, first_seq)`. A chain's head is its last run,
//!   so there is no head row to update: the journal is insert-only;
//! - `rejections(command_id, content_hash, body)`, `checkpoints(chain, seq, body)`: insert-only;
//! - `personal(reference, salt, text)`: the erasable side store (insert, replace, delete);
//! - `meta(key, value)`, `writer(id = 0, epoch)`, `schema_version(version)`.
//!
//! Append-only inside the database. `runs`, `rejections` and `checkpoints` carry triggers that
//! refuse UPDATE, DELETE and TRUNCATE, whoever asks (the owner included, short of dropping the
//! trigger). The service connects as its own role (`tanso_service` by default), which owns
//! nothing and is granted only SELECT and INSERT on them; migrations run as the connecting
//! (owner) role.
//!
//! One commit is one call of the `tanso_commit` function, so one round trip and one
//! transaction: it reads the writer epoch `FOR SHARE` (a new writer's epoch bump waits for it,
//! and it for the bump), refuses a stale epoch (`Fenced`), checks every run against the
//! chain's stored head (expected sequence and previous hash), and inserts. The session runs
//! with `synchronous_commit = on`, so an `Ok` commit is flushed to the server's WAL.
//!
//! Leadership. `acquire_writer` takes a session advisory lock (its key derived from the schema
//! name) on a second connection that exists only to hold it, with `idle_session_timeout` set
//! to the lease: a thread pings it well inside the lease. If the process dies, the server
//! drops the session and the lock at once; if it stalls (stopped, swapped out, partitioned),
//! the server ends the idle session when the lease runs out. Either way another instance then
//! takes the lock and bumps the epoch, and every later commit of the old writer is `Fenced`,
//! because the epoch is checked inside each commit's transaction.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, NoTls};
use sha2::{Digest as _, Sha256};
use tanso_store::sql::{from_sql_seq, to_digest, to_sql_seq, to_stored_run};
use tanso_store::{
    ChainHead, CheckpointRecord, CommitBatch, Digest, PersonalRecord, RejectionRecord, Store,
    StoreError, StoreResult, StoredRun, SEQ_MAX,
};

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i32 = 1;
/// The default PostgreSQL schema holding Tanso's tables.
pub const DEFAULT_SCHEMA: &str = "tanso";
/// The default role the service connects as.
pub const DEFAULT_SERVICE_ROLE: &str = "tanso_service";
/// The default leadership lease.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5);

/// The DDL of version 1. `{service}` is the service role, quoted.
const SCHEMA_V1: &str = r#"
CREATE TABLE schema_version (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE meta (key text COLLATE "C" PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE writer (id int PRIMARY KEY CHECK (id = 0), epoch bigint NOT NULL CHECK (epoch >= 0));
INSERT INTO writer (id, epoch) VALUES (0, 0);
CREATE TABLE runs (
    chain text COLLATE "C" NOT NULL CHECK (chain <> ''),
    first_seq bigint NOT NULL CHECK (first_seq >= 1),
    last_seq bigint NOT NULL,
    prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
    head_hash bytea NOT NULL CHECK (length(head_hash) = 32),
    epoch bigint NOT NULL,
    body bytea NOT NULL CHECK (length(body) > 0),
    committed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chain, first_seq),
    CHECK (last_seq >= first_seq)
);
-- Bodies are hashed entries, stored as given: no compression on the commit path (measured:
-- pglz on an 8,000-entry run costs more than the bytes it saves).
ALTER TABLE runs ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE TABLE rejections (command_id text COLLATE "C" PRIMARY KEY, content_hash bytea NOT NULL, body bytea NOT NULL);
CREATE TABLE personal (reference bytea PRIMARY KEY, salt bytea NOT NULL, text text NOT NULL);
CREATE TABLE checkpoints (
    chain text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    body bytea NOT NULL,
    PRIMARY KEY (chain, seq)
);

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tanso: % on %.% is refused: the journal is append-only',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'TN009';
END $$;
CREATE TRIGGER runs_append_only BEFORE UPDATE OR DELETE ON runs
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER runs_no_truncate BEFORE TRUNCATE ON runs
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER rejections_append_only BEFORE UPDATE OR DELETE ON rejections
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER rejections_no_truncate BEFORE TRUNCATE ON rejections
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- One commit, one transaction, one round trip (a prepared statement). Errors: TN001 fenced (detail: the stored
-- epoch), TN002 chain conflict (detail: chain, expected seq, stored seq, tab-separated), TN003 duplicate rejection
-- (detail: the command id).
CREATE FUNCTION tanso_commit(
    p_epoch bigint,
    r_chain text[], r_first bigint[], r_last bigint[], r_prev bytea[], r_head bytea[], r_body bytea[],
    j_id text[], j_hash bytea[], j_body bytea[],
    p_ref bytea[], p_salt bytea[], p_text text[],
    c_chain text[], c_seq bigint[], c_body bytea[]
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    current bigint;
    h_seq bigint;
    h_hash bytea;
    inserted int;
BEGIN
    -- Shared with every other commit, exclusive with acquire_writer's epoch bump: a commit
    -- that started before the bump finishes before it, and one after it sees the new epoch.
    PERFORM pg_advisory_xact_lock_shared({epoch_lock});
    SELECT epoch INTO current FROM writer WHERE id = 0;
    IF current IS DISTINCT FROM p_epoch THEN
        RAISE EXCEPTION 'writer fenced' USING ERRCODE = 'TN001', DETAIL = current::text;
    END IF;
    FOR i IN 1 .. coalesce(array_length(r_chain, 1), 0) LOOP
        SELECT last_seq, head_hash INTO h_seq, h_hash FROM runs
            WHERE chain = r_chain[i] ORDER BY first_seq DESC LIMIT 1;
        IF NOT FOUND THEN
            h_seq := 0;
            h_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
        END IF;
        IF h_seq <> r_first[i] - 1 OR h_hash <> r_prev[i] THEN
            RAISE EXCEPTION 'chain conflict' USING ERRCODE = 'TN002',
                DETAIL = r_chain[i] || chr(9) || (r_first[i] - 1)::text || chr(9) || h_seq::text;
        END IF;
        INSERT INTO runs (chain, first_seq, last_seq, prev_hash, head_hash, epoch, body)
            VALUES (r_chain[i], r_first[i], r_last[i], r_prev[i], r_head[i], p_epoch, r_body[i]);
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(j_id, 1), 0) LOOP
        INSERT INTO rejections (command_id, content_hash, body) VALUES (j_id[i], j_hash[i], j_body[i])
            ON CONFLICT (command_id) DO NOTHING;
        GET DIAGNOSTICS inserted = ROW_COUNT;
        IF inserted = 0 THEN
            RAISE EXCEPTION 'duplicate rejection' USING ERRCODE = 'TN003', DETAIL = j_id[i];
        END IF;
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(p_ref, 1), 0) LOOP
        INSERT INTO personal (reference, salt, text) VALUES (p_ref[i], p_salt[i], p_text[i])
            ON CONFLICT (reference) DO UPDATE SET salt = excluded.salt, text = excluded.text;
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(c_chain, 1), 0) LOOP
        INSERT INTO checkpoints (chain, seq, body) VALUES (c_chain[i], c_seq[i], c_body[i])
            ON CONFLICT (chain, seq) DO NOTHING;
    END LOOP;
END $$;

REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM PUBLIC;
GRANT USAGE ON SCHEMA {schema} TO {service};
GRANT SELECT, INSERT ON runs, rejections, checkpoints TO {service};
GRANT SELECT, INSERT, UPDATE ON meta TO {service};
GRANT SELECT, UPDATE ON writer TO {service};
GRANT SELECT ON schema_version TO {service};
GRANT SELECT, INSERT, UPDATE, DELETE ON personal TO {service};
"#;

/// The read-side tables for reporting tools (SQL): written by the edge from the journal,
/// never read back by Tanso. Version 1 of the projection layout.
const PROJECTIONS_V1: &str = r#"
CREATE TABLE proj_progress (chain text COLLATE "C" PRIMARY KEY, seq bigint NOT NULL);
CREATE TABLE proj_actions (
    chain text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    event_index int NOT NULL,
    command_id text NOT NULL,
    actor text NOT NULL,
    time timestamptz NOT NULL,
    kind text NOT NULL,
    quantity bigint,
    from_account bigint,
    to_account bigint,
    event jsonb NOT NULL,
    PRIMARY KEY (chain, seq, event_index)
);
CREATE TABLE proj_accounts (
    chain text COLLATE "C" NOT NULL,
    account bigint NOT NULL,
    holder text,
    kind text NOT NULL,
    status text NOT NULL,
    units bigint NOT NULL,
    blocks bigint NOT NULL,
    PRIMARY KEY (chain, account)
);
CREATE TABLE proj_blocks (
    chain text COLLATE "C" NOT NULL,
    issuing text NOT NULL,
    first_serial bigint NOT NULL,
    last_serial bigint NOT NULL,
    units bigint NOT NULL,
    account bigint NOT NULL,
    attributes jsonb NOT NULL,
    PRIMARY KEY (chain, issuing, first_serial)
);
CREATE INDEX proj_blocks_account ON proj_blocks (chain, account);
GRANT SELECT, INSERT, UPDATE, DELETE ON proj_progress, proj_actions, proj_accounts, proj_blocks TO {service};
"#;

/// How to open a PostgreSQL store.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// The PostgreSQL schema holding the tables.
    pub schema: String,
    /// How long a stalled writer keeps leadership (the lock session's idle timeout).
    pub lease: Duration,
}

impl Default for PgOptions {
    fn default() -> PgOptions {
        PgOptions {
            schema: DEFAULT_SCHEMA.to_string(),
            lease: DEFAULT_LEASE,
        }
    }
}

/// What `migrate` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migrated {
    pub schema: String,
    pub from_version: i32,
    pub to_version: i32,
    pub service_role: String,
    pub role_created: bool,
}

/// Creates or upgrades the schema, as the connecting (owner) role, and grants the service role
/// its privileges (creating the role, with LOGIN and nothing else, if it does not exist).
pub fn migrate(url: &str, schema: &str, service_role: &str) -> StoreResult<Migrated> {
    check_identifier(schema, "schema")?;
    check_identifier(service_role, "service role")?;
    let mut client = connect(url)?;
    let mut tx = client.transaction().map_err(pg_error("begin migration"))?;
    // Migrations of one schema run one at a time.
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&lock_key(&format!("migrate:{schema}"))],
    )
    .map_err(pg_error("lock migration"))?;
    let role_exists: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)",
            &[&service_role],
        )
        .map_err(pg_error("look up the service role"))?
        .get(0);
    if !role_exists {
        // Another migration (of another schema) may create it at the same moment.
        tx.batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
            quote(service_role)
        ))
        .map_err(pg_error("create the service role"))?;
    }
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {s}; SET LOCAL search_path TO {s};",
        s = quote(schema)
    ))
    .map_err(pg_error("create schema"))?;
    let has_version: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'schema_version')",
            &[&schema],
        )
        .map_err(pg_error("read schema version"))?
        .get(0);
    let from_version: i32 = if has_version {
        tx.query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
            .map_err(pg_error("read schema version"))?
            .get(0)
    } else {
        0
    };
    if from_version > SCHEMA_VERSION {
        return Err(StoreError::Io(format!(
            "schema {schema} is at version {from_version}, newer than this build's {SCHEMA_VERSION}"
        )));
    }
    let fill = |ddl: &str| {
        ddl.replace("{schema}", &quote(schema))
            .replace("{service}", &quote(service_role))
            .replace("{epoch_lock}", &epoch_lock_key(schema).to_string())
    };
    if from_version < 1 {
        tx.batch_execute(&fill(SCHEMA_V1))
            .map_err(pg_error("create schema version 1"))?;
        tx.batch_execute(&fill(PROJECTIONS_V1))
            .map_err(pg_error("create projection tables"))?;
        tx.execute("INSERT INTO schema_version (version) VALUES (1)", &[])
            .map_err(pg_error("record schema version"))?;
    } else {
        // Re-grant, in case the service role is new for an existing schema.
        let grants: String = fill(SCHEMA_V1)
            .lines()
            .chain(fill(PROJECTIONS_V1).lines())
            .filter(|l| l.starts_with("GRANT"))
            .map(|l| format!("{l}\n"))
            .collect();
        tx.batch_execute(&grants)
            .map_err(pg_error("grant the service role"))?;
    }
    tx.commit().map_err(pg_error("commit migration"))?;
    Ok(Migrated {
        schema: schema.to_string(),
        from_version,
        to_version: SCHEMA_VERSION,
        service_role: service_role.to_string(),
        role_created: !role_exists,
    })
}

/// Drops a schema and everything in it (tests and benchmarks; never the service's business).
pub fn drop_schema(url: &str, schema: &str) -> StoreResult<()> {
    check_identifier(schema, "schema")?;
    let mut client = connect(url)?;
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", quote(schema)))
        .map_err(pg_error("drop schema"))
}

/// The connection that holds the writer's advisory lock, and the thread that keeps it alive.
struct Leadership {
    stop: mpsc::Sender<()>,
    lost: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Leadership {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The PostgreSQL backend. One value per writer or reader; the connection is its own.
pub struct PgStore {
    conn: Mutex<Client>,
    url: String,
    options: PgOptions,
    leadership: Option<Leadership>,
    /// `tanso_commit`, prepared once on `conn`.
    commit_statement: Option<postgres::Statement>,
    /// The lock connection of a reader whose last try failed, kept for the next try.
    spare_lock: Option<Client>,
    poisoned: Option<String>,
    syncs: u64,
    sync_setting: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.options.schema)
            .field("leader", &self.is_leader())
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

impl PgStore {
    /// Opens the store in the default schema.
    pub fn open(url: &str) -> StoreResult<PgStore> {
        PgStore::open_with(url, &PgOptions::default())
    }

    /// Opens the store: connects, sets the search path and `synchronous_commit = on`, and
    /// checks that the schema was migrated to this build's version.
    pub fn open_with(url: &str, options: &PgOptions) -> StoreResult<PgStore> {
        let mut client = session(url, options)?;
        let migrated: bool = client
            .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
            .map_err(pg_error("look for the schema"))?
            .get(0);
        let version: Option<i32> = if migrated {
            client
                .query_one("SELECT max(version) FROM schema_version", &[])
                .map_err(pg_error("read schema version"))?
                .get(0)
        } else {
            None
        };
        match version {
            Some(SCHEMA_VERSION) => {}
            Some(v) => {
                return Err(StoreError::Io(format!(
                "schema {} is at version {v}, this build needs {SCHEMA_VERSION}: run tanso migrate",
                options.schema
            )))
            }
            None => {
                return Err(StoreError::Io(format!(
                "schema {} has no Tanso tables: run `tanso migrate --db …` as the owner role first",
                options.schema
            )))
            }
        }
        let sync_setting: String = client
            .query_one("SHOW synchronous_commit", &[])
            .map_err(pg_error("read synchronous_commit"))?
            .get(0);
        Ok(PgStore {
            conn: Mutex::new(client),
            url: url.to_string(),
            options: options.clone(),
            leadership: None,
            commit_statement: None,
            spare_lock: None,
            poisoned: None,
            syncs: 0,
            sync_setting,
        })
    }

    pub fn schema(&self) -> &str {
        &self.options.schema
    }

    /// Whether this store holds the writer lock, as far as it knows (the lock session may
    /// have been ended by the server since the last ping).
    pub fn is_leader(&self) -> bool {
        self.leadership
            .as_ref()
            .is_some_and(|l| !l.lost.load(Ordering::SeqCst))
    }

    pub fn is_poisoned(&self) -> bool {
        self.poisoned.is_some()
    }

    /// A separate connection to the same database and schema, for the edge's projections.
    pub fn projection_client(&self) -> StoreResult<Client> {
        session(&self.url, &self.options)
    }

    /// Tries to take the writer lock; `Ok(false)` if another session holds it.
    fn take_lock(&mut self) -> StoreResult<bool> {
        if self.is_leader() {
            return Ok(true);
        }
        self.leadership = None;
        let lease_ms = self.options.lease.as_millis().max(100);
        let mut lock = match self.spare_lock.take().filter(|c| !c.is_closed()) {
            Some(c) => c,
            None => {
                let mut c = connect(&self.url)?;
                c.batch_execute(&format!("SET idle_session_timeout = {lease_ms}"))
                    .map_err(pg_error("set the lease"))?;
                c
            }
        };
        let got: bool = lock
            .query_one(
                "SELECT pg_try_advisory_lock($1)",
                &[&writer_lock_key(&self.options.schema)],
            )
            .map_err(pg_error("take the writer lock"))?
            .get(0);
        if !got {
            self.spare_lock = Some(lock);
            return Ok(false);
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let lost = Arc::new(AtomicBool::new(false));
        let lost_flag = lost.clone();
        let ping_every = Duration::from_millis((lease_ms / 4).max(20) as u64);
        let thread = std::thread::Builder::new()
            .name("tanso-pg-lease".into())
            .spawn(move || loop {
                match stopped.recv_timeout(ping_every) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if lock.simple_query("SELECT 1").is_err() {
                            lost_flag.store(true, Ordering::SeqCst);
                            return;
                        }
                    }
                    _ => return,
                }
            })
            .map_err(|e| StoreError::Io(format!("start the lease thread: {e}")))?;
        self.leadership = Some(Leadership {
            stop,
            lost,
            thread: Some(thread),
        });
        Ok(true)
    }

    fn client(&self) -> MutexGuard<'_, Client> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check_writable(&self) -> StoreResult<()> {
        match &self.poisoned {
            Some(why) => Err(StoreError::Io(format!(
                "store refuses writes after an earlier failure: {why}"
            ))),
            None => Ok(()),
        }
    }

    fn read_epoch(&self) -> StoreResult<u64> {
        let epoch: i64 = self
            .client()
            .query_one("SELECT epoch FROM writer WHERE id = 0", &[])
            .map_err(pg_error("read writer epoch"))?
            .get(0);
        from_sql_seq(epoch)
    }
}

impl Store for PgStore {
    fn acquire_writer(&mut self) -> StoreResult<u64> {
        self.check_writable()?;
        if !self.take_lock()? {
            return Err(StoreError::WriterHeld(format!(
                "another instance holds the writer lock of schema {}",
                self.options.schema
            )));
        }
        let key = epoch_lock_key(&self.options.schema);
        let mut client = self.client();
        let mut tx = client
            .transaction()
            .map_err(pg_error("begin the epoch bump"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&key])
            .map_err(pg_error("wait for commits in flight"))?;
        let row = tx
            .query_one(
                "UPDATE writer SET epoch = epoch + 1 WHERE id = 0 RETURNING epoch",
                &[],
            )
            .map_err(pg_error("update writer epoch"))?;
        tx.commit().map_err(pg_error("commit the epoch bump"))?;
        from_sql_seq(row.get(0))
    }

    fn writer_epoch(&self) -> StoreResult<u64> {
        self.read_epoch()
    }

    fn commit(&mut self, batch: &CommitBatch) -> StoreResult<()> {
        batch.validate()?;
        self.check_writable()?;
        if batch.is_empty() {
            let current = self.read_epoch()?;
            if batch.epoch != current {
                return Err(StoreError::Fenced {
                    ours: batch.epoch,
                    current,
                });
            }
            return Ok(());
        }
        let epoch = to_sql_seq(batch.epoch).map_err(|_| StoreError::Fenced {
            ours: batch.epoch,
            current: 0,
        })?;
        let (runs, rejections) = (&batch.runs, &batch.rejections);
        let (personal, checkpoints) = (&batch.personal, &batch.checkpoints);
        let r_chain = column(runs, |r| r.chain.as_str());
        let r_first = seqs(runs, |r| r.first_seq)?;
        let r_last = seqs(runs, |r| r.last_seq)?;
        let r_prev = column(runs, |r| &r.prev_hash[..]);
        let r_head = column(runs, |r| &r.head_hash[..]);
        let r_body = column(runs, |r| &r.body[..]);
        let j_id = column(rejections, |r| r.command_id.as_str());
        let j_hash = column(rejections, |r| &r.content_hash[..]);
        let j_body = column(rejections, |r| &r.body[..]);
        let p_ref = column(personal, |p| &p.reference[..]);
        let p_salt = column(personal, |p| &p.salt[..]);
        let p_text = column(personal, |p| p.text.as_str());
        let c_chain = column(checkpoints, |c| c.chain.as_str());
        let c_seq = seqs(checkpoints, |c| c.seq)?;
        let c_body = column(checkpoints, |c| &c.body[..]);
        let statement = match &self.commit_statement {
            Some(st) => st.clone(),
            None => {
                let st = self
                    .client()
                    .prepare(
                        "SELECT tanso_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                    )
                    .map_err(pg_error("prepare the commit"))?;
                self.commit_statement = Some(st.clone());
                st
            }
        };
        let result = self.client().execute(
            &statement,
            &[
                &epoch, &r_chain, &r_first, &r_last, &r_prev, &r_head, &r_body, &j_id, &j_hash,
                &j_body, &p_ref, &p_salt, &p_text, &c_chain, &c_seq, &c_body,
            ],
        );
        match result {
            Ok(_) => {
                self.syncs += 1;
                Ok(())
            }
            Err(e) => Err(self.commit_error(batch, e)),
        }
    }

    fn heads(&self) -> StoreResult<Vec<ChainHead>> {
        // A loose index scan: one probe per chain, not a scan of every run.
        let rows = self
            .client()
            .query(
                "WITH RECURSIVE c AS (
                     (SELECT chain FROM runs ORDER BY chain LIMIT 1)
                     UNION ALL
                     SELECT (SELECT r.chain FROM runs r WHERE r.chain > c.chain ORDER BY r.chain LIMIT 1)
                     FROM c WHERE c.chain IS NOT NULL)
                 SELECT c.chain, h.last_seq, h.head_hash FROM c
                 CROSS JOIN LATERAL (SELECT last_seq, head_hash FROM runs r
                     WHERE r.chain = c.chain ORDER BY first_seq DESC LIMIT 1) h
                 WHERE c.chain IS NOT NULL ORDER BY c.chain",
                &[],
            )
            .map_err(pg_error("read heads"))?;
        rows.iter()
            .map(|row| {
                Ok(ChainHead {
                    chain: row.get(0),
                    seq: from_sql_seq(row.get(1))?,
                    hash: to_digest(row.get(2), "head hash")?,
                })
            })
            .collect()
    }

    fn read_runs(&self, chain: &str, from_seq: u64) -> StoreResult<Vec<StoredRun>> {
        let from = to_sql_seq(from_seq.min(SEQ_MAX))?;
        let rows = self
            .client()
            .query(
                "SELECT first_seq, last_seq, body FROM runs
                 WHERE chain = $1 AND last_seq >= $2 AND first_seq >= coalesce(
                     (SELECT max(first_seq) FROM runs WHERE chain = $1 AND first_seq <= $2), 0)
                 ORDER BY first_seq",
                &[&chain, &from],
            )
            .map_err(pg_error("read runs"))?;
        rows.iter()
            .map(|row| to_stored_run(chain, row.get(0), row.get(1), row.get(2)))
            .collect()
    }

    fn run_containing(&self, chain: &str, seq: u64) -> StoreResult<Option<StoredRun>> {
        let at = to_sql_seq(seq.min(SEQ_MAX))?;
        let row = self
            .client()
            .query_opt(
                "SELECT first_seq, last_seq, body FROM runs
                 WHERE chain = $1 AND first_seq <= $2 ORDER BY first_seq DESC LIMIT 1",
                &[&chain, &at],
            )
            .map_err(pg_error("read run"))?;
        match row {
            None => Ok(None),
            Some(row) => {
                let run = to_stored_run(chain, row.get(0), row.get(1), row.get(2))?;
                Ok((run.last_seq >= seq).then_some(run))
            }
        }
    }

    fn rejection(&self, command_id: &str) -> StoreResult<Option<RejectionRecord>> {
        let row = self
            .client()
            .query_opt(
                "SELECT content_hash, body FROM rejections WHERE command_id = $1",
                &[&command_id],
            )
            .map_err(pg_error("read rejection"))?;
        row.map(|row| {
            Ok(RejectionRecord {
                command_id: command_id.to_string(),
                content_hash: to_digest(row.get(0), "rejection content hash")?,
                body: row.get(1),
            })
        })
        .transpose()
    }

    fn scan_rejections(&self, visit: &mut dyn FnMut(RejectionRecord)) -> StoreResult<()> {
        let rows = self
            .client()
            .query("SELECT command_id, content_hash, body FROM rejections", &[])
            .map_err(pg_error("read rejections"))?;
        for row in rows {
            visit(RejectionRecord {
                command_id: row.get(0),
                content_hash: to_digest(row.get(1), "rejection content hash")?,
                body: row.get(2),
            });
        }
        Ok(())
    }

    fn personal(&self, reference: &Digest) -> StoreResult<Option<PersonalRecord>> {
        let row = self
            .client()
            .query_opt(
                "SELECT salt, text FROM personal WHERE reference = $1",
                &[&&reference[..]],
            )
            .map_err(pg_error("read personal record"))?;
        row.map(|row| {
            Ok(PersonalRecord {
                reference: *reference,
                salt: to_digest(row.get(0), "personal salt")?,
                text: row.get(1),
            })
        })
        .transpose()
    }

    fn erase_personal(&mut self, reference: &Digest) -> StoreResult<bool> {
        self.check_writable()?;
        let n = self
            .client()
            .execute(
                "DELETE FROM personal WHERE reference = $1",
                &[&&reference[..]],
            )
            .map_err(pg_error("erase personal record"))?;
        Ok(n > 0)
    }

    fn checkpoints(&self, chain: &str) -> StoreResult<Vec<CheckpointRecord>> {
        let rows = self
            .client()
            .query(
                "SELECT seq, body FROM checkpoints WHERE chain = $1 ORDER BY seq",
                &[&chain],
            )
            .map_err(pg_error("read checkpoints"))?;
        rows.iter()
            .map(|row| {
                Ok(CheckpointRecord {
                    chain: chain.to_string(),
                    seq: from_sql_seq(row.get(0))?,
                    body: row.get(1),
                })
            })
            .collect()
    }

    fn meta_get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .client()
            .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
            .map_err(pg_error("read meta"))?
            .map(|row| row.get(0)))
    }

    fn meta_set(&mut self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.check_writable()?;
        self.client()
            .execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &value],
            )
            .map_err(pg_error("write meta"))?;
        Ok(())
    }

    fn sync_mode(&self) -> String {
        format!(
            "postgresql synchronous_commit={} schema={}",
            self.sync_setting, self.options.schema
        )
    }

    fn syncs(&self) -> u64 {
        self.syncs
    }
}

impl PgStore {
    /// Maps a failed commit: our own refusals to their store errors; anything else poisons the
    /// store (the server may or may not have committed: nobody can say, so the writer stops).
    fn commit_error(&mut self, batch: &CommitBatch, e: postgres::Error) -> StoreError {
        if let Some(db) = e.as_db_error() {
            let detail = db.detail().unwrap_or("");
            match db.code().code() {
                "TN001" => {
                    return StoreError::Fenced {
                        ours: batch.epoch,
                        current: detail.parse().unwrap_or(0),
                    }
                }
                "TN002" => {
                    let mut parts = detail.split('\t');
                    let chain = parts.next().unwrap_or_default();
                    let expected = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
                    let stored = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
                    return StoreError::ChainConflict {
                        chain: chain.to_string(),
                        expected_seq: expected,
                        stored_seq: stored,
                    };
                }
                "TN003" => return StoreError::DuplicateRejection(detail.to_string()),
                _ => {}
            }
            if *db.code() == SqlState::UNIQUE_VIOLATION {
                return StoreError::Corrupt(format!("commit: a run is already stored: {db}"));
            }
        }
        let why = format!("commit: {}", describe(&e));
        self.poisoned = Some(why.clone());
        StoreError::Io(why)
    }
}

/// One field of every item: a column of `tanso_commit`'s array arguments.
fn column<'a, T, U>(items: &'a [T], field: impl Fn(&'a T) -> U) -> Vec<U> {
    items.iter().map(field).collect()
}

/// Sequence numbers of every item, as SQL stores them.
fn seqs<T>(items: &[T], field: impl Fn(&T) -> u64) -> StoreResult<Vec<i64>> {
    items.iter().map(|x| to_sql_seq(field(x))).collect()
}

/// A connection to the schema of `options` (search path set, `synchronous_commit = on`), for
/// work beside the store such as projections.
pub fn session(url: &str, options: &PgOptions) -> StoreResult<Client> {
    check_identifier(&options.schema, "schema")?;
    let mut client = connect(url)?;
    client
        .batch_execute(&format!(
            "SET search_path TO {}; SET synchronous_commit TO on;",
            quote(&options.schema)
        ))
        .map_err(pg_error("configure session"))?;
    Ok(client)
}

fn connect(url: &str) -> StoreResult<Client> {
    Client::connect(url, NoTls).map_err(pg_error("connect to PostgreSQL"))
}

/// The advisory lock key of a schema's writer lock. In `pg_locks` it shows as `classid` (the
/// high 32 bits) and `objid` (the low 32 bits), with `objsubid` 1.
pub fn writer_lock_key(schema: &str) -> i64 {
    lock_key(&format!("writer:{schema}"))
}

/// The advisory lock key that orders commits (shared) against epoch bumps (exclusive).
fn epoch_lock_key(schema: &str) -> i64 {
    lock_key(&format!("epoch:{schema}"))
}

/// The advisory lock key of a name: the first 8 bytes of its SHA-256.
fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("tanso:{name}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Schema and role names: lower-case letters, digits and underscores, starting with a letter,
/// at most 63 bytes (so that quoting is only a formality).
fn check_identifier(name: &str, what: &str) -> StoreResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Io(format!(
            "{what} name {name:?} must be lower-case letters, digits and _, starting with a letter"
        )))
    }
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

fn pg_error(what: &str) -> impl Fn(postgres::Error) -> StoreError + '_ {
    move |e| StoreError::Io(format!("{what}: {}", describe(&e)))
}

/// A server error with its code and message (the driver's own text is only "db error").
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.severity(), db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// Helpers for tests and benchmarks that need a throw-away schema on a real server.
pub mod testing {
    use super::{drop_schema, migrate, PgOptions, PgStore, DEFAULT_SERVICE_ROLE};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// The owner (migration) URL: `TANSO_TEST_PG`, or the local server as `postgres`.
    pub fn owner_url() -> String {
        std::env::var("TANSO_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
    }

    /// The same URL with the user replaced (`postgres://user@host/db` or
    /// `postgres://user:pw@host/db`).
    pub fn url_as(url: &str, user: &str) -> String {
        match url.split_once("://") {
            Some((scheme, rest)) => {
                let host = rest.split_once('@').map_or(rest, |(_, h)| h);
                format!("{scheme}://{user}@{host}")
            }
            None => url.to_string(),
        }
    }

    /// The service role's URL on the test server.
    pub fn service_url() -> String {
        url_as(&owner_url(), DEFAULT_SERVICE_ROLE)
    }

    /// A migrated schema of its own, dropped when this value is dropped.
    pub struct TempSchema {
        pub name: String,
    }

    impl TempSchema {
        pub fn new(prefix: &str) -> TempSchema {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let name = format!(
                "{prefix}_{}_{}_{nanos}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            );
            migrate(&owner_url(), &name, DEFAULT_SERVICE_ROLE)
                .unwrap_or_else(|e| panic!("migrate test schema {name}: {e}"));
            TempSchema { name }
        }

        pub fn options(&self) -> PgOptions {
            PgOptions {
                schema: self.name.clone(),
                ..PgOptions::default()
            }
        }

        /// Opens the schema as the service role.
        pub fn open(&self) -> PgStore {
            PgStore::open_with(&service_url(), &self.options())
                .unwrap_or_else(|e| panic!("open {} as the service role: {e}", self.name))
        }
    }

    impl Drop for TempSchema {
        fn drop(&mut self) {
            let _ = drop_schema(&owner_url(), &self.name);
        }
    }
}
