//! Alerts: a JSON POST (Slack-compatible: `{"text": …}`, plus `event` and `details` for other
//! receivers) to every configured webhook when a health check changes state, a job fails, or a
//! scheduled backup fails. Sending never blocks the caller: alerts go through a bounded queue to
//! a task that retries each delivery (3 attempts, 1 s then 2 s apart) and sends the same alert
//! (same key) at most once per `alert_min_interval`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::daemon::config::HealthConfig;
use crate::health::{Check, Severity};

/// One alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// What it is about, for rate limiting (`check:disk`, `job_failed:ID`).
    pub key: String,
    /// `check_changed`, `job_failed`, `backup_failed`.
    pub event: &'static str,
    /// The message.
    pub text: String,
    /// Details for machines.
    pub details: Value,
}

/// The alert sender.
#[derive(Debug)]
pub struct Alerts {
    tx: Option<mpsc::Sender<Alert>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Alerts {
    /// Starts the sender (within a tokio runtime); without webhooks, alerts are only logged.
    pub fn start(config: &HealthConfig) -> Alerts {
        if config.alert_webhooks.is_empty() {
            return Alerts {
                tx: None,
                task: None,
            };
        }
        let (tx, rx) = mpsc::channel(1000);
        let task = tokio::spawn(deliver(
            rx,
            config.alert_webhooks.clone(),
            config.alert_min_interval,
        ));
        Alerts {
            tx: Some(tx),
            task: Some(task),
        }
    }

    /// Queues an alert (dropped with a log line if the queue is full).
    pub fn send(&self, alert: Alert) {
        tracing::warn!(event = alert.event, key = %alert.key, "{}", alert.text);
        if let Some(tx) = &self.tx
            && tx.try_send(alert).is_err()
        {
            tracing::error!("alert queue full: alert dropped");
        }
    }

    /// A health check changed from `before` to its current state.
    pub fn check_changed(&self, check: &Check, before: Option<Severity>) {
        let before = before.map_or("unknown", Severity::as_str);
        self.send(Alert {
            key: format!("check:{}:{}", check.name, check.status.as_str()),
            event: "check_changed",
            text: format!(
                "barwise: {} is {} (was {before}): {}",
                check.name,
                check.status.as_str(),
                check.detail
            ),
            details: json!({ "check": check, "previous": before }),
        });
    }

    /// A job failed.
    pub fn job_failed(&self, job_id: &str, name: &str, error: &str) {
        self.send(Alert {
            key: format!("job_failed:{job_id}"),
            event: "job_failed",
            text: format!("barwise: job {name} ({job_id}) failed: {error}"),
            details: json!({ "job_id": job_id, "name": name, "error": error }),
        });
    }

    /// A backup failed.
    pub fn backup_failed(&self, schedule: &str, error: &str) {
        self.send(Alert {
            key: format!("backup_failed:{schedule}"),
            event: "backup_failed",
            text: format!("barwise: backup {schedule} failed: {error}"),
            details: json!({ "schedule": schedule, "error": error }),
        });
    }

    /// Waits (at most `limit`) until queued alerts are delivered.
    pub async fn flush(mut self, limit: Duration) {
        drop(self.tx.take());
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(limit, task).await;
        }
    }
}

async fn deliver(mut rx: mpsc::Receiver<Alert>, hooks: Vec<String>, min_interval: Duration) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot create the alert HTTP client");
            return;
        }
    };
    let mut sent: HashMap<String, Instant> = HashMap::new();
    while let Some(alert) = rx.recv().await {
        if sent
            .get(&alert.key)
            .is_some_and(|at| at.elapsed() < min_interval)
        {
            tracing::debug!(key = %alert.key, "alert rate-limited");
            continue;
        }
        sent.insert(alert.key.clone(), Instant::now());
        let body = json!({ "text": alert.text, "event": alert.event, "details": alert.details });
        for hook in &hooks {
            let mut delay = Duration::from_secs(1);
            for attempt in 1..=3 {
                match client.post(hook).json(&body).send().await {
                    Ok(r) if r.status().is_success() => break,
                    Ok(r) => {
                        tracing::warn!(hook, status = %r.status(), attempt, "alert webhook refused")
                    }
                    Err(e) => {
                        tracing::warn!(hook, error = %e, attempt, "alert webhook unreachable")
                    }
                }
                if attempt < 3 {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }
}
