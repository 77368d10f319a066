//! The task queue: apalis 1.0 on SQLite (embedded default, a file next to the results database)
//! or Redis (for several daemons on several machines). Workers register under a name unique to
//! each daemon process and send heartbeats; the tasks of a worker that stops sending them are
//! handed to the others after `heartbeat x missed_heartbeats`.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use apalis::prelude::{
    BackendExt as _, TaskBuilder, TaskSink as _, WorkerBuilder, WorkerBuilderExt as _,
};
use apalis_redis::RedisStorage;
use apalis_sqlite::{SqliteConnectOptions, SqliteStorage};

use super::config::Config;
use super::{BatchTask, Daemon, worker};

/// How many times the queue delivers a task whose handler keeps failing (each delivery already
/// retries transient failures with backoff; handing a task back at shutdown uses one).
pub const MAX_ATTEMPTS: usize = 10;

/// A queue problem.
#[derive(Debug, thiserror::Error)]
#[error("{url}: {message}")]
pub struct QueueError {
    /// The queue URL (without password).
    pub url: String,
    /// What failed.
    pub message: String,
}

/// The queue backend.
#[derive(Clone)]
pub enum Queue {
    /// apalis-sqlite.
    Sqlite {
        /// Storage of batch tasks.
        storage: SqliteStorage<BatchTask>,
        /// The URL, for messages.
        url: String,
        /// The queue name.
        name: String,
    },
    /// apalis-redis.
    Redis {
        /// Storage of batch tasks.
        storage: RedisStorage<BatchTask>,
        /// The URL, for messages.
        url: String,
        /// The queue name.
        name: String,
    },
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("url", &self.url()).finish()
    }
}

impl Queue {
    /// Connects to the queue of `config` (creating the SQLite file and its tables if needed).
    ///
    /// # Errors
    /// [`QueueError`] when the queue cannot be reached or set up.
    pub async fn connect(config: &Config) -> Result<Queue, QueueError> {
        let url = barwise_storage::redact(&config.queue_url);
        let err = |message: String| QueueError {
            url: url.clone(),
            message,
        };
        let memory = config.queue_url.strip_prefix("memory://");
        if let Some(path) = config.queue_url.strip_prefix("sqlite://").or(memory) {
            if let Some(parent) = std::path::Path::new(path).parent()
                && memory.is_none()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)
                    .map_err(|e| err(format!("cannot create {}: {e}", parent.display())))?;
            }
            let text = match memory {
                // One in-memory database shared by the pool's connections, alive while the
                // pool keeps one open: the private queue of a one-shot `barwise run`.
                Some(name) => format!("sqlite:file:{name}?mode=memory&cache=shared"),
                None => format!("sqlite://{path}"),
            };
            let options = SqliteConnectOptions::from_str(&text)
                .map_err(|e| err(e.to_string()))?
                .create_if_missing(true)
                .busy_timeout(std::time::Duration::from_secs(10));
            let pool = apalis_sqlite::SqlitePoolOptions::new()
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
                .map_err(|e| err(format!("cannot open: {e}")))?;
            SqliteStorage::setup(&pool)
                .await
                .map_err(|e| err(format!("cannot set up the queue tables: {e}")))?;
            let storage = SqliteStorage::new(&pool).with_config(
                apalis_sqlite::Config::default()
                    .queue(&config.queue_name)
                    .batch_size(config.workers)
                    .heartbeat_interval(config.heartbeat)
                    .missed_heartbeats(config.missed_heartbeats),
            );
            Ok(Queue::Sqlite {
                storage,
                url,
                name: config.queue_name.clone(),
            })
        } else {
            let conn = apalis_redis::connect(config.queue_url.as_str())
                .await
                .map_err(|e| err(format!("cannot connect: {e}")))?;
            let storage = RedisStorage::new(conn).with_config(
                apalis_redis::Config::default()
                    .queue(&config.queue_name)
                    .batch_size(config.workers)
                    .heartbeat_interval(config.heartbeat)
                    .missed_heartbeats(config.missed_heartbeats),
            );
            Ok(Queue::Redis {
                storage,
                url,
                name: config.queue_name.clone(),
            })
        }
    }

    /// The queue URL, without password.
    pub fn url(&self) -> &str {
        match self {
            Queue::Sqlite { url, .. } | Queue::Redis { url, .. } => url,
        }
    }

    /// The queue name (namespace of this installation's tasks).
    pub fn name(&self) -> &str {
        match self {
            Queue::Sqlite { name, .. } | Queue::Redis { name, .. } => name,
        }
    }

    /// `sqlite` or `redis`.
    pub fn backend(&self) -> &'static str {
        match self {
            Queue::Sqlite { .. } => "sqlite",
            Queue::Redis { .. } => "redis",
        }
    }

    fn error(&self, message: impl std::fmt::Display) -> QueueError {
        QueueError {
            url: self.url().to_owned(),
            message: message.to_string(),
        }
    }

    /// Adds tasks.
    ///
    /// # Errors
    /// [`QueueError`] when the queue refuses or is unreachable (some tasks may be queued).
    pub async fn push(&self, tasks: Vec<BatchTask>) -> Result<(), QueueError> {
        let build = |task| TaskBuilder::new(task).max_attempts(MAX_ATTEMPTS).build();
        match self {
            Queue::Sqlite { storage, .. } => {
                let mut storage = storage.clone();
                for task in tasks {
                    storage
                        .push_task(build(task))
                        .await
                        .map_err(|e| self.error(e))?;
                }
            }
            Queue::Redis { storage, .. } => {
                let mut storage = storage.clone();
                for task in tasks {
                    storage
                        .push_task(build(task))
                        .await
                        .map_err(|e| self.error(e))?;
                }
            }
        }
        Ok(())
    }

    /// [`Queue::push`] from a blocking thread of the runtime.
    ///
    /// # Errors
    /// As [`Queue::push`].
    pub fn push_blocking(&self, tasks: Vec<BatchTask>) -> Result<(), QueueError> {
        tokio::runtime::Handle::current().block_on(self.push(tasks))
    }

    /// Checks that the queue answers.
    ///
    /// # Errors
    /// [`QueueError`] when it does not.
    pub async fn ping(&self) -> Result<(), QueueError> {
        match self {
            Queue::Sqlite { storage, .. } => {
                sqlx::query("SELECT 1")
                    .execute(storage.pool())
                    .await
                    .map_err(|e| self.error(e))?;
            }
            Queue::Redis { storage, .. } => {
                let mut storage = storage.clone();
                let _: String = redis::cmd("PING")
                    .query_async(storage.get_connection())
                    .await
                    .map_err(|e| self.error(e))?;
            }
        }
        Ok(())
    }

    /// Tasks not finished yet: waiting, in flight, or failed with attempts left.
    ///
    /// # Errors
    /// [`QueueError`] when the queue does not answer.
    pub async fn depth(&self) -> Result<u64, QueueError> {
        match self {
            Queue::Sqlite { storage, .. } => {
                self.sqlite_count(
                    storage,
                    "SELECT COUNT(*) FROM Jobs WHERE job_type = ?1 AND (status IN ('Pending', \
                     'Queued', 'Running') OR (status = 'Failed' AND attempts < max_attempts))",
                    None,
                )
                .await
            }
            Queue::Redis { storage, .. } => {
                let mut storage = storage.clone();
                let config = storage.get_config().clone();
                let waiting: u64 = redis::cmd("LLEN")
                    .arg(config.active_jobs_list())
                    .query_async(storage.get_connection())
                    .await
                    .map_err(|e| self.error(e))?;
                let in_flight: u64 = redis::cmd("ZCARD")
                    .arg(config.inflight_jobs_set())
                    .query_async(storage.get_connection())
                    .await
                    .unwrap_or(0);
                Ok(waiting + in_flight)
            }
        }
    }

    /// A `COUNT(*)` over the SQLite queue's tables, with this queue's name as `?1` and `arg`,
    /// when given, as `?2`.
    async fn sqlite_count(
        &self,
        storage: &SqliteStorage<BatchTask>,
        sql: &'static str,
        arg: Option<i64>,
    ) -> Result<u64, QueueError> {
        let mut query = sqlx::query_as::<_, (i64,)>(sql).bind(self.name());
        if let Some(arg) = arg {
            query = query.bind(arg);
        }
        let (n,) = query
            .fetch_one(storage.pool())
            .await
            .map_err(|e| self.error(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Workers (of any daemon) that sent a heartbeat within `within`.
    ///
    /// # Errors
    /// [`QueueError`] when the queue does not answer.
    pub async fn live_workers(&self, within: std::time::Duration) -> Result<u64, QueueError> {
        let within = i64::try_from(within.as_secs().max(1)).unwrap_or(i64::MAX);
        match self {
            Queue::Sqlite { storage, .. } => {
                self.sqlite_count(
                    storage,
                    "SELECT COUNT(*) FROM Workers WHERE worker_type = ?1 \
                     AND last_seen >= CAST(strftime('%s', 'now') AS INTEGER) - ?2",
                    Some(within),
                )
                .await
            }
            Queue::Redis { storage, .. } => {
                let mut storage = storage.clone();
                let key = storage.get_config().workers_set();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                redis::cmd("ZCOUNT")
                    .arg(key)
                    .arg(now - within)
                    .arg("+inf")
                    .query_async(storage.get_connection())
                    .await
                    .map_err(|e| self.error(e))
            }
        }
    }

    /// Runs this daemon's worker until `shutdown` completes: up to `config.workers` tasks at
    /// once, polling every `config.poll_interval` when idle (without a poll interval, an idle
    /// apalis worker only looks again at its next heartbeat).
    ///
    /// # Errors
    /// The worker's error (backend lost).
    pub async fn run_worker(
        self,
        daemon: Arc<Daemon>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), QueueError> {
        let config = &daemon.config;
        let name = config.worker_name.clone();
        let workers = config.workers;
        let poll = config.poll_interval;
        let shutdown = async move {
            shutdown.await;
            Ok::<(), apalis::prelude::WorkerError>(())
        };
        let url = self.url().to_owned();
        let result = match self {
            Queue::Sqlite { storage, .. } => {
                WorkerBuilder::new(name)
                    .backend(storage.poll_with_interval(poll))
                    .concurrency(workers)
                    .data(Arc::clone(&daemon))
                    .build(worker::handle)
                    .run_until(shutdown)
                    .await
            }
            Queue::Redis { storage, .. } => {
                WorkerBuilder::new(name)
                    .backend(storage.poll_with_interval(poll))
                    .concurrency(workers)
                    .data(Arc::clone(&daemon))
                    .build(worker::handle)
                    .run_until(shutdown)
                    .await
            }
        };
        result.map_err(|e| QueueError {
            url,
            message: format!("worker stopped: {e}"),
        })
    }
}
