//! Checking a job's archive against its manifest: every object present with its size and
//! SHA-256, nothing else under the job's prefix.

use serde::Serialize;

use crate::layout::{JobManifest, job_prefix};
use crate::store::{Archive, ArchiveError, sha256_hex};

/// What a verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Objects checked and found intact.
    pub ok: usize,
    /// Keys in the manifest (or expected by the caller) that are not in the store.
    pub missing: Vec<String>,
    /// Keys whose size or SHA-256 differs from the manifest: `(key, problem)`.
    pub corrupt: Vec<(String, String)>,
    /// Keys under the job's prefix that no manifest lists.
    pub unexpected: Vec<String>,
}

impl Verification {
    /// True when nothing is missing, corrupt or unexpected.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.corrupt.is_empty() && self.unexpected.is_empty()
    }
}

/// `manifest.json` of a job.
pub fn manifest_key(job_id: &str) -> String {
    format!("{}/manifest.json", job_prefix(job_id))
}

impl Archive {
    /// Downloads every object of the job's manifest and checks its size and SHA-256, and lists
    /// the job's prefix for objects the manifest does not name. A missing manifest is reported
    /// as missing (and every object found as unexpected).
    ///
    /// # Errors
    /// Store errors other than a missing object; a manifest that is not valid JSON.
    pub async fn verify_job(
        &self,
        job_id: &str,
    ) -> Result<(Option<JobManifest>, Verification), ArchiveError> {
        let mut found = Verification::default();
        let key = manifest_key(job_id);
        let manifest: Option<JobManifest> = match self.get(&key).await {
            Ok(bytes) => {
                Some(
                    serde_json::from_slice(&bytes).map_err(|e| ArchiveError::InvalidUrl {
                        url: format!("{}/{key}", self.url()),
                        reason: format!("manifest is not valid: {e}"),
                    })?,
                )
            }
            Err(e) if e.is_not_found() => {
                found.missing.push(key.clone());
                None
            }
            Err(e) => return Err(e),
        };
        let listed = self.list(&job_prefix(job_id)).await?;
        let expected: Vec<&crate::ManifestEntry> = manifest
            .as_ref()
            .map(|m| m.objects.iter().collect())
            .unwrap_or_default();
        for entry in &expected {
            match self.get(&entry.key).await {
                Ok(bytes) => {
                    let sha = sha256_hex(&bytes);
                    if bytes.len() as u64 != entry.size {
                        found.corrupt.push((
                            entry.key.clone(),
                            format!("size {} instead of {}", bytes.len(), entry.size),
                        ));
                    } else if sha != entry.sha256 {
                        found.corrupt.push((
                            entry.key.clone(),
                            format!("sha256 {sha} instead of {}", entry.sha256),
                        ));
                    } else {
                        found.ok += 1;
                    }
                }
                Err(e) if e.is_not_found() => found.missing.push(entry.key.clone()),
                Err(e) => return Err(e),
            }
        }
        for (listed_key, _) in listed {
            if listed_key != key && !expected.iter().any(|e| e.key == listed_key) {
                found.unexpected.push(listed_key);
            }
        }
        Ok((manifest, found))
    }
}
