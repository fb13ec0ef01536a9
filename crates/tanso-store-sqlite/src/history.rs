//! The serial history index: for every event that touched a serial range, a row
//! (issuing registry, start, end, chain, seq). A serial's history is then one indexed query
//! however the blocks were later split or merged.
//!
//! It is a projection: kept in its own file (`history.sqlite`, WAL, synchronous=NORMAL —
//! consistent after a crash but possibly behind), rebuilt from the journal from its watermark,
//! never read to decide anything. It may lag behind the journal; callers catch it up before a
//! query. It must not be the source of truth for anything.

use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use tanso_store::{StoreError, StoreResult};

fn io(e: rusqlite::Error) -> StoreError {
    StoreError::Io(e.to_string())
}

fn to_i64(n: u64) -> StoreResult<i64> {
    i64::try_from(n).map_err(|_| StoreError::InvalidBatch(format!("{n} exceeds the index's range")))
}

/// One indexed touch of a range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touch {
    pub issuing: String,
    pub start: u64,
    pub end: u64,
    pub seq: u64,
}

pub struct HistoryIndex {
    conn: Connection,
}

impl HistoryIndex {
    pub fn open(dir: &Path) -> StoreResult<HistoryIndex> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(e.to_string()))?;
        let conn = Connection::open(dir.join("history.sqlite")).map_err(io)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS touches (
                 issuing TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
                 chain TEXT NOT NULL, seq INTEGER NOT NULL);
             CREATE INDEX IF NOT EXISTS touches_by_serial ON touches (issuing, start);
             CREATE TABLE IF NOT EXISTS watermarks (chain TEXT PRIMARY KEY, seq INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS longest (issuing TEXT PRIMARY KEY, len INTEGER NOT NULL);",
        )
        .map_err(io)?;
        Ok(HistoryIndex { conn })
    }

    /// The last seq of `chain` that is indexed (0 if none).
    pub fn watermark(&self, chain: &str) -> StoreResult<u64> {
        let v: Option<i64> = self
            .conn
            .query_row(
                "SELECT seq FROM watermarks WHERE chain = ?1",
                params![chain],
                |r| r.get(0),
            )
            .optional()
            .map_err(io)?;
        Ok(v.map_or(0, |s| s.max(0) as u64))
    }

    /// Adds the touches of `chain`'s entries up to `upto_seq`, and moves its watermark, in one
    /// transaction.
    pub fn add(&mut self, chain: &str, upto_seq: u64, touches: &[Touch]) -> StoreResult<()> {
        let tx = self.conn.transaction().map_err(io)?;
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO touches (issuing, start, end, chain, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(io)?;
            let mut longest = tx
                .prepare_cached(
                    "INSERT INTO longest (issuing, len) VALUES (?1, ?2)
                     ON CONFLICT (issuing) DO UPDATE SET len = max(len, excluded.len)",
                )
                .map_err(io)?;
            for t in touches {
                ins.execute(params![
                    t.issuing,
                    to_i64(t.start)?,
                    to_i64(t.end)?,
                    chain,
                    to_i64(t.seq)?
                ])
                .map_err(io)?;
                longest
                    .execute(params![t.issuing, to_i64(t.end - t.start)?])
                    .map_err(io)?;
            }
            tx.execute(
                "INSERT INTO watermarks (chain, seq) VALUES (?1, ?2)
                 ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq",
                params![chain, to_i64(upto_seq)?],
            )
            .map_err(io)?;
        }
        tx.commit().map_err(io)
    }

    /// Every (chain, seq) whose events touched `serial` of `issuing`, in chain then seq order.
    pub fn lookup(&self, issuing: &str, serial: u64) -> StoreResult<Vec<(String, u64)>> {
        let s = to_i64(serial)?;
        let longest: i64 = self
            .conn
            .query_row(
                "SELECT len FROM longest WHERE issuing = ?1",
                params![issuing],
                |r| r.get(0),
            )
            .optional()
            .map_err(io)?
            .unwrap_or(0);
        // A row can contain `serial` only if it starts within `longest` before it.
        let mut q = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT chain, seq FROM touches
                 WHERE issuing = ?1 AND start <= ?2 AND start >= ?3 AND end >= ?2
                 ORDER BY chain, seq",
            )
            .map_err(io)?;
        let rows = q
            .query_map(params![issuing, s, s.saturating_sub(longest)], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(io)?;
        let mut out = Vec::new();
        for r in rows {
            let (c, q) = r.map_err(io)?;
            out.push((c, q.max(0) as u64));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_every_range_that_contains_the_serial_after_splits() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = HistoryIndex::open(dir.path()).unwrap();
        let t = |start, end, seq| Touch {
            issuing: "IND01".into(),
            start,
            end,
            seq,
        };
        h.add(
            "IND01",
            3,
            &[t(1, 3000, 1), t(2001, 3000, 2), t(1, 2000, 3)],
        )
        .unwrap();
        assert_eq!(h.watermark("IND01").unwrap(), 3);
        assert_eq!(
            h.lookup("IND01", 2500).unwrap(),
            vec![("IND01".to_string(), 1), ("IND01".to_string(), 2)]
        );
        assert_eq!(
            h.lookup("IND01", 10).unwrap(),
            vec![("IND01".to_string(), 1), ("IND01".to_string(), 3)]
        );
        assert!(h.lookup("IND01", 3001).unwrap().is_empty());
        assert!(h.lookup("JPN01", 10).unwrap().is_empty());
    }
}
