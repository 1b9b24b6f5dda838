//! The shared store: the job cache's tables in PostgreSQL
//! (`cluster_store: postgres`), so every master sees every job and return.
//!
//! A batch is one transaction of at most one multi-row statement per table
//! and kind (`INSERT ... SELECT FROM unnest(...)`), whatever its size. A
//! return that is already stored stays as it is (`ON CONFLICT DO NOTHING`):
//! the first copy counts, on every master, as in the embedded store.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_postgres::types::{ToSql, Type};

use super::{BatchedJobCache, CacheError, Scan, Store, Table, Write};
use crate::cluster_store::{Cluster, ClusterError, Exclusive, Shared};

/// The channel on which a commit names the minions whose data it changed
/// (`<origin> <id>`).
pub const MINION_DATA_CHANNEL: &str = "brine_minion_data";

/// The job cache in the cluster store.
pub type PgJobCache = BatchedJobCache<PgStore>;

impl PgJobCache {
    /// The job cache in `cluster`'s database, with its writer thread started.
    /// `origin`: this master's name among its peers, which its
    /// notifications carry.
    pub fn connect(cluster: Arc<Cluster>, origin: i64) -> Result<Self, CacheError> {
        BatchedJobCache::start(PgStore {
            reads: Shared::new(cluster.clone()),
            writer: Exclusive::new(cluster),
            origin,
        })
    }
}

pub struct PgStore {
    /// Reads share one pipelined connection.
    reads: Arc<Shared>,
    /// Commits and prunes take turns on their own connection, which holds
    /// their transactions.
    writer: Exclusive,
    /// This master's name among its peers (see `peers::Peers::origin`).
    origin: i64,
}

/// A SQL table's name and key column.
fn sql_table(table: Table) -> (&'static str, &'static str) {
    match table {
        Table::Jobs => ("brine_jobs", "jid"),
        Table::Returns => ("brine_returns", "jid"),
        Table::MinionData => ("brine_minion_data", "id"),
    }
}

/// A return's key `<jid>/<minion>` as its two columns.
fn split_return_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or((key, ""))
}

impl Store for PgStore {
    fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let key = key.to_string();
        let found = self
            .reads
            .block("a job cache read", move |client| async move {
                let row = if table == Table::Returns {
                    let (jid, minion) = split_return_key(&key);
                    client
                        .query_typed_opt(
                            "SELECT record FROM brine_returns WHERE jid = $1 AND minion = $2",
                            &[(&jid, Type::TEXT), (&minion, Type::TEXT)],
                        )
                        .await
                } else {
                    let (name, column) = sql_table(table);
                    let sql = format!("SELECT record FROM {name} WHERE {column} = $1");
                    client
                        .query_typed_opt(&sql, &[(&key.as_str(), Type::TEXT)])
                        .await
                }
                .map_err(ClusterError::query("a job cache read"))?;
                Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
            })?;
        Ok(found)
    }

    fn scan(&self, table: Table, scan: Scan<'_>) -> Result<BTreeMap<String, Vec<u8>>, CacheError> {
        let (name, column) = sql_table(table);
        let key_expr = if table == Table::Returns {
            "jid || '/' || minion"
        } else {
            column
        };
        let (condition, param) = match scan {
            Scan::All => (String::new(), None),
            Scan::JobsFrom(jid) => (format!("WHERE {column} >= $1"), Some(jid.as_str())),
            Scan::ReturnsOf(jid) => (format!("WHERE {column} = $1"), Some(jid.as_str())),
        };
        let sql = format!("SELECT {key_expr}, record FROM {name} {condition}");
        let param = param.map(str::to_string);
        let rows = self
            .reads
            .block("a job cache scan", move |client| async move {
                let params: Vec<(&(dyn ToSql + Sync), Type)> = match &param {
                    Some(p) => vec![(p, Type::TEXT)],
                    None => Vec::new(),
                };
                client
                    .query_typed(&sql, &params)
                    .await
                    .map_err(ClusterError::query("a job cache scan"))
            })?;
        Ok(rows
            .iter()
            .map(|row| (row.get::<_, String>(0), row.get::<_, Vec<u8>>(1)))
            .collect())
    }

    fn commit(&self, batch: &[Write]) -> Result<(), String> {
        let statements = Statements::of(batch, self.origin);
        self.writer
            .block("a job cache commit", move |mut held| async move {
                let what = "a job cache commit";
                let txn = held
                    .client()?
                    .transaction()
                    .await
                    .map_err(ClusterError::query(what))?;
                for (sql, params) in statements.sql() {
                    txn.execute_typed(&sql, &borrowed(&params))
                        .await
                        .map_err(ClusterError::query(what))?;
                }
                txn.commit().await.map_err(ClusterError::query(what))
            })
            .map_err(|e| e.to_string())
    }

    fn delete_before(&self, cutoff: &str) -> Result<usize, CacheError> {
        let cutoff = cutoff.to_string();
        let dropped = self
            .writer
            .block("the job cache prune", move |mut held| async move {
                let what = "the job cache prune";
                let txn = held
                    .client()?
                    .transaction()
                    .await
                    .map_err(ClusterError::query(what))?;
                let params: [(&(dyn ToSql + Sync), Type); 1] = [(&cutoff, Type::TEXT)];
                let jobs = txn
                    .execute_typed("DELETE FROM brine_jobs WHERE jid < $1", &params)
                    .await
                    .map_err(ClusterError::query(what))?;
                txn.execute_typed("DELETE FROM brine_returns WHERE jid < $1", &params)
                    .await
                    .map_err(ClusterError::query(what))?;
                txn.commit().await.map_err(ClusterError::query(what))?;
                Ok(usize::try_from(jobs).unwrap_or(usize::MAX))
            })?;
        Ok(dropped)
    }
}

/// A batch as column arrays: the newest write of each key, split into what
/// each table stores and deletes.
#[derive(Default)]
struct Statements {
    /// The committing master, named in the minion data notifications.
    origin: i64,
    jobs: Rows,
    returns: Rows,
    minion_data: Rows,
}

#[derive(Default)]
struct Rows {
    keys: Vec<String>,
    /// Second key column (a return's minion).
    minions: Vec<String>,
    records: Vec<Vec<u8>>,
    deleted: Vec<String>,
}

type Param = (Box<dyn ToSql + Sync + Send>, Type);

/// Parameters as the client takes them.
fn borrowed(params: &[Param]) -> Vec<(&(dyn ToSql + Sync), Type)> {
    params
        .iter()
        .map(|(p, t)| (p.as_ref() as &(dyn ToSql + Sync), t.clone()))
        .collect()
}

impl Statements {
    fn of(batch: &[Write], origin: i64) -> Statements {
        // A later write of a key replaces an earlier one; one statement may
        // not touch a row twice.
        let mut newest: BTreeMap<(Table, &str), Option<&[u8]>> = BTreeMap::new();
        for w in batch {
            newest.insert((w.table, w.key.as_str()), w.value.as_deref());
        }
        let mut out = Statements {
            origin,
            ..Statements::default()
        };
        for ((table, key), value) in newest {
            let rows = match table {
                Table::Jobs => &mut out.jobs,
                Table::Returns => &mut out.returns,
                Table::MinionData => &mut out.minion_data,
            };
            match value {
                Some(record) if table == Table::Returns => {
                    let (jid, minion) = split_return_key(key);
                    rows.keys.push(jid.to_string());
                    rows.minions.push(minion.to_string());
                    rows.records.push(record.to_vec());
                }
                Some(record) => {
                    rows.keys.push(key.to_string());
                    rows.records.push(record.to_vec());
                }
                None => rows.deleted.push(key.to_string()),
            }
        }
        out
    }

    /// The statements with their parameters, skipping empty ones.
    fn sql(self) -> Vec<(String, Vec<Param>)> {
        let mut out: Vec<(String, Vec<Param>)> = Vec::new();
        let text_array = || Type::TEXT_ARRAY;
        // The other masters keep the minion data in memory: tell them which
        // records changed (delivered when the transaction commits).
        let changed: Vec<String> = self
            .minion_data
            .keys
            .iter()
            .chain(&self.minion_data.deleted)
            .map(|id| format!("{} {id}", self.origin))
            .collect();
        for (table, rows) in [
            (Table::Jobs, self.jobs),
            (Table::MinionData, self.minion_data),
        ] {
            let (name, column) = sql_table(table);
            if !rows.keys.is_empty() {
                out.push((
                    format!(
                        "INSERT INTO {name} ({column}, record) \
                         SELECT * FROM unnest($1::text[], $2::bytea[]) \
                         ON CONFLICT ({column}) DO UPDATE SET record = excluded.record"
                    ),
                    vec![
                        (Box::new(rows.keys), text_array()),
                        (Box::new(rows.records), Type::BYTEA_ARRAY),
                    ],
                ));
            }
            if !rows.deleted.is_empty() {
                out.push((
                    format!("DELETE FROM {name} WHERE {column} = ANY($1)"),
                    vec![(Box::new(rows.deleted), text_array())],
                ));
            }
        }
        let returns = self.returns;
        if !returns.keys.is_empty() {
            out.push((
                "INSERT INTO brine_returns (jid, minion, record) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[]) \
                 ON CONFLICT (jid, minion) DO NOTHING"
                    .to_string(),
                vec![
                    (Box::new(returns.keys), text_array()),
                    (Box::new(returns.minions), text_array()),
                    (Box::new(returns.records), Type::BYTEA_ARRAY),
                ],
            ));
        }
        if !returns.deleted.is_empty() {
            let (jids, minions): (Vec<String>, Vec<String>) = returns
                .deleted
                .iter()
                .map(|key| {
                    let (jid, minion) = split_return_key(key);
                    (jid.to_string(), minion.to_string())
                })
                .unzip();
            out.push((
                "DELETE FROM brine_returns r USING unnest($1::text[], $2::text[]) AS d(jid, minion) \
                 WHERE r.jid = d.jid AND r.minion = d.minion"
                    .to_string(),
                vec![
                    (Box::new(jids), text_array()),
                    (Box::new(minions), text_array()),
                ],
            ));
        }
        if !changed.is_empty() {
            out.push((
                format!(
                    "SELECT pg_notify('{MINION_DATA_CHANNEL}', id) FROM unnest($1::text[]) AS id"
                ),
                vec![(Box::new(changed), text_array())],
            ));
        }
        out
    }
}
