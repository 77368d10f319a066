//! The object store behind an archive URL, with write-once puts and checksums.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt as _;
use object_store::aws::{AmazonS3Builder, S3CopyIfNotExists};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload, RetryConfig,
    WriteMultipart,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Objects larger than this go up in parts (S3's minimum part size is 5 MiB).
const DEFAULT_MULTIPART_THRESHOLD: usize = 16 << 20;
const PART_SIZE: usize = 8 << 20;

/// What can go wrong with the archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The URL is not a supported archive URL.
    #[error("archive URL {url:?}: {reason}")]
    InvalidUrl {
        /// As given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The store refused or could not be reached.
    #[error("archive {url}: {operation} {key}: {source}")]
    Store {
        /// The archive (no credentials).
        url: String,
        /// What was being done.
        operation: &'static str,
        /// The object key.
        key: String,
        /// The store's error.
        source: Box<object_store::Error>,
    },
    /// A different object already exists under the key: objects are written once.
    #[error(
        "archive {url}: {key} already holds a different object (sha256 {existing}); objects are written once"
    )]
    Conflict {
        /// The archive.
        url: String,
        /// The key.
        key: String,
        /// SHA-256 of the existing object.
        existing: String,
    },
}

impl ArchiveError {
    /// True for a missing object.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            ArchiveError::Store { source, .. } if matches!(**source, object_store::Error::NotFound { .. })
        )
    }
}

/// An object written: its key, size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// Key relative to the archive's root.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stores of `memory://NAME` URLs, shared by name within the process.
fn memory_store(name: &str) -> Arc<InMemory> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<InMemory>>>> = OnceLock::new();
    let stores = STORES.get_or_init(|| Mutex::new(HashMap::new()));
    let mut stores = stores
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(
        stores
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(InMemory::new())),
    )
}

/// An archive: an object store and the URL it came from.
#[derive(Debug, Clone)]
pub struct Archive {
    store: Arc<dyn ObjectStore>,
    url: String,
    multipart_threshold: usize,
}

fn truthy(value: &str) -> bool {
    matches!(value, "1" | "true" | "yes")
}

impl Archive {
    /// The archive at `url` (see the crate documentation). Nothing is contacted yet.
    ///
    /// S3 query options: `endpoint`, `region`, `path_style` (true for S3-compatible servers
    /// addressed by path), `allow_http`, `timeout` (seconds), `retries` (number of retries of a
    /// failed request, default 3), and `access_key_id` / `secret_access_key` (for test servers;
    /// otherwise credentials come from the `AWS_*` environment variables and are never shown).
    /// All URLs take `multipart_threshold` (bytes).
    ///
    /// # Errors
    /// [`ArchiveError::InvalidUrl`].
    pub fn open(url: &str) -> Result<Archive, ArchiveError> {
        let invalid = |reason: String| ArchiveError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        let options: HashMap<String, String> = parsed.query_pairs().into_owned().collect();
        let known = [
            "endpoint",
            "region",
            "path_style",
            "allow_http",
            "timeout",
            "retries",
            "multipart_threshold",
            "access_key_id",
            "secret_access_key",
        ];
        if let Some(unknown) = options.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(invalid(format!(
                "unknown option {unknown:?} (known: {})",
                known.join(", ")
            )));
        }
        let number = |key: &str| -> Result<Option<u64>, ArchiveError> {
            options
                .get(key)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| invalid(format!("{key}: expected a whole number, got {v:?}")))
                })
                .transpose()
        };
        let multipart_threshold = number("multipart_threshold")?
            .map_or(DEFAULT_MULTIPART_THRESHOLD, |n| n as usize)
            .max(1);
        let store: Arc<dyn ObjectStore> = match parsed.scheme() {
            "memory" => memory_store(parsed.host_str().unwrap_or("default")),
            "file" => {
                let path = parsed
                    .to_file_path()
                    .map_err(|()| invalid("expected file:///absolute/path".to_owned()))?;
                std::fs::create_dir_all(&path)
                    .map_err(|e| invalid(format!("cannot create {}: {e}", path.display())))?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(&path).map_err(|e| invalid(e.to_string()))?,
                )
            }
            "s3" => {
                let bucket = parsed
                    .host_str()
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| invalid("expected s3://bucket/prefix".to_owned()))?;
                let timeout = number("timeout")?.unwrap_or(30);
                let mut client = ClientOptions::new()
                    .with_timeout(Duration::from_secs(timeout))
                    .with_connect_timeout(Duration::from_secs(timeout.min(10)));
                if options.get("allow_http").is_some_and(|v| truthy(v)) {
                    client = client.with_allow_http(true);
                }
                let retry = RetryConfig {
                    max_retries: number("retries")?.unwrap_or(3) as usize,
                    retry_timeout: Duration::from_secs(timeout * 2),
                    ..RetryConfig::default()
                };
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_client_options(client)
                    .with_retry(retry)
                    .with_copy_if_not_exists(S3CopyIfNotExists::Multipart);
                if let Some(endpoint) = options.get("endpoint") {
                    builder = builder.with_endpoint(endpoint);
                }
                // For S3-compatible test servers; prefer the AWS_* environment variables.
                if let Some(key) = options.get("access_key_id") {
                    builder = builder.with_access_key_id(key);
                }
                if let Some(secret) = options.get("secret_access_key") {
                    builder = builder.with_secret_access_key(secret);
                }
                if let Some(region) = options.get("region") {
                    builder = builder.with_region(region);
                }
                if options.get("path_style").is_some_and(|v| truthy(v)) {
                    builder = builder.with_virtual_hosted_style_request(false);
                }
                let s3 = builder.build().map_err(|e| invalid(e.to_string()))?;
                let prefix = parsed.path().trim_matches('/');
                if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, prefix))
                }
            }
            other => {
                return Err(invalid(format!(
                    "unsupported scheme {other:?} (expected file, s3 or memory)"
                )));
            }
        };
        let mut shown = parsed.clone();
        let _ = shown.set_password(None);
        let visible: Vec<(String, String)> = shown
            .query_pairs()
            .filter(|(k, _)| k != "secret_access_key")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if visible.is_empty() {
            shown.set_query(None);
        } else {
            shown.query_pairs_mut().clear().extend_pairs(visible);
        }
        Ok(Archive {
            store,
            url: shown.to_string(),
            multipart_threshold,
        })
    }

    /// The archive URL, without credentials.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn error(
        &self,
        operation: &'static str,
        key: &str,
        source: object_store::Error,
    ) -> ArchiveError {
        ArchiveError::Store {
            url: self.url.clone(),
            operation,
            key: key.to_owned(),
            source: Box::new(source),
        }
    }

    /// Writes `bytes` under `key` once. If the key already holds the same bytes (a retried
    /// upload), that is success; if it holds other bytes, [`ArchiveError::Conflict`]. Objects
    /// above the multipart threshold are uploaded in parts under a temporary key and then
    /// copied into place only if the key is still free.
    ///
    /// # Errors
    /// [`ArchiveError`].
    pub async fn put_once(&self, key: &str, bytes: Bytes) -> Result<ObjectInfo, ArchiveError> {
        let info = ObjectInfo {
            key: key.to_owned(),
            size: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        };
        let path = Path::from(key);
        let written = if bytes.len() > self.multipart_threshold {
            self.put_multipart_once(&path, key, bytes).await
        } else {
            let options = PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            };
            self.store
                .put_opts(&path, PutPayload::from(bytes), options)
                .await
                .map(|_| ())
        };
        match written {
            Ok(()) => Ok(info),
            Err(object_store::Error::AlreadyExists { .. }) => {
                let existing = self.get(key).await?;
                let existing = sha256_hex(&existing);
                if existing == info.sha256 {
                    Ok(info)
                } else {
                    Err(ArchiveError::Conflict {
                        url: self.url.clone(),
                        key: key.to_owned(),
                        existing,
                    })
                }
            }
            Err(e) => Err(self.error("writing", key, e)),
        }
    }

    async fn put_multipart_once(
        &self,
        path: &Path,
        key: &str,
        bytes: Bytes,
    ) -> Result<(), object_store::Error> {
        let temporary = Path::from(format!("{key}.upload-{}", sha256_hex(&bytes)));
        let upload = self.store.put_multipart(&temporary).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        writer.write(&bytes);
        writer.finish().await?;
        let copied = self.store.copy_if_not_exists(&temporary, path).await;
        let _ = self.store.delete(&temporary).await;
        copied
    }

    /// The object under `key`.
    ///
    /// # Errors
    /// [`ArchiveError::Store`] (see [`ArchiveError::is_not_found`]).
    pub async fn get(&self, key: &str) -> Result<Bytes, ArchiveError> {
        let path = Path::from(key);
        let result = self
            .store
            .get(&path)
            .await
            .map_err(|e| self.error("reading", key, e))?;
        result
            .bytes()
            .await
            .map_err(|e| self.error("reading", key, e))
    }

    /// Keys and sizes of every object under `prefix`, sorted by key.
    ///
    /// # Errors
    /// [`ArchiveError::Store`].
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, ArchiveError> {
        let path = Path::from(prefix);
        let mut found: Vec<(String, u64)> = self
            .store
            .list(Some(&path))
            .map_ok(|meta| (meta.location.to_string(), meta.size))
            .try_collect()
            .await
            .map_err(|e| self.error("listing", prefix, e))?;
        found.sort();
        Ok(found)
    }

    /// Deletes every object under `prefix`; returns how many.
    ///
    /// # Errors
    /// [`ArchiveError::Store`].
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, ArchiveError> {
        let objects = self.list(prefix).await?;
        for (key, _) in &objects {
            self.store
                .delete(&Path::from(key.as_str()))
                .await
                .map_err(|e| self.error("deleting", key, e))?;
        }
        Ok(objects.len())
    }

    /// Deletes one object (no error if it is already gone).
    ///
    /// # Errors
    /// [`ArchiveError::Store`].
    pub async fn delete(&self, key: &str) -> Result<(), ArchiveError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("deleting", key, e)),
        }
    }

    /// Overwrites `key` (only for corrupting objects in tests and tools; the archive itself
    /// never overwrites).
    ///
    /// # Errors
    /// [`ArchiveError::Store`].
    pub async fn overwrite(&self, key: &str, bytes: Bytes) -> Result<(), ArchiveError> {
        self.store
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.error("writing", key, e))
    }

    /// Checks that the archive accepts writes: writes and removes a probe object.
    ///
    /// # Errors
    /// [`ArchiveError::Store`].
    pub async fn check_writable(&self) -> Result<(), ArchiveError> {
        let key = format!(
            "_barwise/probe-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let path = Path::from(key.as_str());
        self.store
            .put(&path, PutPayload::from_static(b"probe"))
            .await
            .map_err(|e| self.error("writing", &key, e))?;
        self.store
            .delete(&path)
            .await
            .map_err(|e| self.error("deleting", &key, e))
    }

    /// Reads the object a data URL points at: `s3://bucket/key?options`, `file:///path`,
    /// `http(s)://…` (a plain download, query string kept, e.g. a pre-signed URL), or
    /// `memory://name/key` in tests. For stores, the store is the URL without its last path
    /// segment.
    ///
    /// # Errors
    /// [`ArchiveError`].
    pub async fn fetch_url(url: &str) -> Result<Bytes, ArchiveError> {
        let parsed = url::Url::parse(url).map_err(|e| ArchiveError::InvalidUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        if matches!(parsed.scheme(), "http" | "https") {
            let failed = |message: String| ArchiveError::InvalidUrl {
                url: url.to_owned(),
                reason: message,
            };
            let response = reqwest::Client::builder()
                .timeout(Duration::from_secs(300))
                .build()
                .map_err(|e| failed(e.to_string()))?
                .get(url)
                .send()
                .await
                .map_err(|e| failed(format!("cannot download: {e}")))?;
            if !response.status().is_success() {
                return Err(failed(format!(
                    "download refused: HTTP {}",
                    response.status()
                )));
            }
            return response
                .bytes()
                .await
                .map_err(|e| failed(format!("download interrupted: {e}")));
        }
        if parsed.scheme() == "file" {
            let file = parsed
                .to_file_path()
                .map_err(|()| ArchiveError::InvalidUrl {
                    url: url.to_owned(),
                    reason: "expected file:///absolute/path".to_owned(),
                })?;
            return tokio::fs::read(&file).await.map(Bytes::from).map_err(|e| {
                ArchiveError::Store {
                    url: url.to_owned(),
                    operation: "reading",
                    key: file.display().to_string(),
                    source: Box::new(object_store::Error::Generic {
                        store: "file",
                        source: Box::new(e),
                    }),
                }
            });
        }
        let path = parsed.path().to_owned();
        let (folder, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        let mut root = parsed.clone();
        root.set_path(if folder.is_empty() { "/" } else { folder });
        let archive = Archive::open(root.as_str())?;
        archive.get(name).await
    }
}
