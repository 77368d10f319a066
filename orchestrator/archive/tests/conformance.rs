//! One conformance suite for every kind of archive: in memory, a local folder, and a real
//! S3-compatible server on loopback (moto_server, started by the test support).

use barwise_archive::{Archive, ArchiveError, JobManifest, ObjectInfo, manifest_key};
use bytes::Bytes;

/// Each test gets its own root in each kind of store: `(url, folder kept alive with it,
/// archive)`; the local folder's archive lives in its own entry's folder.
fn archives(test: &str) -> Vec<(String, tempfile::TempDir, Archive)> {
    let entry = |url: String, dir: tempfile::TempDir| {
        let archive = Archive::open(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
        (url, dir, archive)
    };
    let mut out = vec![entry(
        format!("memory://{test}"),
        tempfile::tempdir().unwrap(),
    )];
    let dir = tempfile::tempdir().unwrap();
    out.push(entry(
        format!("file://{}", dir.path().join("archive").display()),
        dir,
    ));
    if let Some(endpoint) = barwise_test_support::s3_endpoint() {
        let url = barwise_test_support::s3_url(&endpoint, "conformance", test);
        out.push(entry(url, tempfile::tempdir().unwrap()));
    }
    out
}

fn bytes(n: usize, seed: u8) -> Bytes {
    Bytes::from(
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect::<Vec<_>>(),
    )
}

#[tokio::test]
async fn put_get_and_list() {
    for (url, _dir, archive) in archives("put-get-list") {
        let a = archive
            .put_once("jobs/j/a.json", Bytes::from_static(b"{}"))
            .await
            .unwrap();
        assert_eq!(a.size, 2, "{url}");
        assert_eq!(a.sha256, barwise_archive::sha256_hex(b"{}"));
        archive
            .put_once("jobs/j/runs/r/b.bin", bytes(1000, 1))
            .await
            .unwrap();
        archive
            .put_once("jobs/k/c.bin", bytes(10, 2))
            .await
            .unwrap();
        assert_eq!(
            archive.get("jobs/j/runs/r/b.bin").await.unwrap(),
            bytes(1000, 1),
            "{url}"
        );
        let listed = archive.list("jobs/j").await.unwrap();
        assert_eq!(
            listed,
            vec![
                ("jobs/j/a.json".to_owned(), 2),
                ("jobs/j/runs/r/b.bin".to_owned(), 1000)
            ],
            "{url}"
        );
        let missing = archive.get("jobs/j/nothing").await.unwrap_err();
        assert!(missing.is_not_found(), "{url}: {missing}");
        assert_eq!(archive.delete_prefix("jobs/j").await.unwrap(), 2);
        assert!(archive.list("jobs/j").await.unwrap().is_empty(), "{url}");
        assert_eq!(archive.list("jobs/k").await.unwrap().len(), 1, "{url}");
        archive.check_writable().await.unwrap();
    }
}

#[tokio::test]
async fn objects_are_written_once() {
    for (url, _dir, archive) in archives("write-once") {
        let first = archive
            .put_once("x/report.json", bytes(100, 1))
            .await
            .unwrap();
        // The same bytes again (a retried upload) is fine.
        let again = archive
            .put_once("x/report.json", bytes(100, 1))
            .await
            .unwrap();
        assert_eq!(first, again, "{url}");
        // Different bytes are refused, and the first object stays.
        let refused = archive
            .put_once("x/report.json", bytes(100, 2))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, ArchiveError::Conflict { .. }),
            "{url}: {refused}"
        );
        assert!(refused.to_string().contains("written once"));
        assert_eq!(archive.get("x/report.json").await.unwrap(), bytes(100, 1));
    }
}

#[tokio::test]
async fn large_objects_go_up_in_parts_and_are_written_once_too() {
    for (url, _dir, archive) in archives("multipart") {
        let url = if url.contains('?') {
            format!("{url}&multipart_threshold=1000000")
        } else {
            format!("{url}?multipart_threshold=1000000")
        };
        drop(archive);
        let archive = Archive::open(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
        let big = bytes(20 << 20, 3);
        let info = archive
            .put_once("big/equity.parquet", big.clone())
            .await
            .unwrap();
        assert_eq!(info.size, 20 << 20);
        assert_eq!(
            archive.get("big/equity.parquet").await.unwrap(),
            big,
            "{url}"
        );
        let again = archive
            .put_once("big/equity.parquet", big.clone())
            .await
            .unwrap();
        assert_eq!(again, info);
        let refused = archive
            .put_once("big/equity.parquet", bytes(20 << 20, 4))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, ArchiveError::Conflict { .. }),
            "{url}: {refused}"
        );
        // No temporary upload is left behind.
        let listed = archive.list("big").await.unwrap();
        assert_eq!(
            listed,
            vec![("big/equity.parquet".to_owned(), 20 << 20)],
            "{url}"
        );
    }
}

async fn write_job(archive: &Archive, job: &str) -> Vec<ObjectInfo> {
    let mut objects = Vec::new();
    for (key, data) in [
        (format!("jobs/{job}/runs/r1/report.json"), bytes(300, 1)),
        (format!("jobs/{job}/runs/r1/trades.parquet"), bytes(500, 2)),
        (format!("jobs/{job}/summary.parquet"), bytes(200, 3)),
    ] {
        objects.push(archive.put_once(&key, data).await.unwrap());
    }
    let manifest = JobManifest {
        job_id: job.to_owned(),
        created_at: "2026-11-26T00:00:00Z".to_owned(),
        runs: 1,
        objects: objects.clone(),
    };
    archive
        .put_once(
            &manifest_key(job),
            Bytes::from(serde_json::to_vec(&manifest).unwrap()),
        )
        .await
        .unwrap();
    objects
}

#[tokio::test]
async fn verification_catches_corrupt_missing_and_unexpected_objects() {
    for (url, _dir, archive) in archives("verify") {
        write_job(&archive, "j").await;
        let (manifest, clean) = archive.verify_job("j").await.unwrap();
        assert!(clean.is_clean(), "{url}: {clean:?}");
        assert_eq!((clean.ok, manifest.unwrap().objects.len()), (3, 3));
        // One byte changed, one object gone, one added.
        let mut corrupted = bytes(500, 2).to_vec();
        corrupted[10] ^= 1;
        archive
            .overwrite("jobs/j/runs/r1/trades.parquet", Bytes::from(corrupted))
            .await
            .unwrap();
        archive.delete("jobs/j/summary.parquet").await.unwrap();
        archive
            .put_once("jobs/j/stray.txt", bytes(5, 5))
            .await
            .unwrap();
        let (_, found) = archive.verify_job("j").await.unwrap();
        assert!(!found.is_clean());
        assert_eq!(found.ok, 1, "{url}: {found:?}");
        assert_eq!(found.corrupt.len(), 1, "{url}: {found:?}");
        assert_eq!(found.corrupt[0].0, "jobs/j/runs/r1/trades.parquet");
        assert!(found.corrupt[0].1.starts_with("sha256 "), "{found:?}");
        assert_eq!(
            found.missing,
            vec!["jobs/j/summary.parquet".to_owned()],
            "{url}"
        );
        assert_eq!(
            found.unexpected,
            vec!["jobs/j/stray.txt".to_owned()],
            "{url}"
        );
        // No manifest at all.
        let (manifest, none) = archive.verify_job("nothing-here").await.unwrap();
        assert!(manifest.is_none());
        assert_eq!(none.missing, vec![manifest_key("nothing-here")]);
    }
}

#[tokio::test]
async fn an_unreachable_store_fails_clearly_and_nothing_is_written() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!(
        "s3://bucket/x?endpoint=http://127.0.0.1:{port}&region=us-east-1&path_style=true\
         &allow_http=true&access_key_id=a&secret_access_key=b&retries=0&timeout=2"
    );
    let archive = Archive::open(&url).unwrap();
    let error = archive.put_once("k", bytes(10, 1)).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{port}")) && text.contains("writing k"),
        "{text}"
    );
    assert!(
        !text.contains("secret_access_key"),
        "credentials are never shown: {text}"
    );
    assert!(archive.check_writable().await.is_err());
}

#[tokio::test]
async fn candle_data_is_read_from_store_urls() {
    let candles = std::fs::read(barwise_test_support::data_file("ETH_BTC-5m.csv")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("ETH.csv");
    std::fs::write(&local, &candles).unwrap();
    let fetched = Archive::fetch_url(&format!("file://{}", local.display()))
        .await
        .unwrap();
    assert_eq!(fetched.as_ref(), candles.as_slice());
    if let Some(endpoint) = barwise_test_support::s3_endpoint() {
        let url = barwise_test_support::s3_url(&endpoint, "candles", "data");
        let archive = Archive::open(&url).unwrap();
        archive
            .put_once("ETH.csv", Bytes::from(candles.clone()))
            .await
            .unwrap();
        let object_url = url.replacen("/data?", "/data/ETH.csv?", 1);
        let fetched = Archive::fetch_url(&object_url).await.unwrap();
        assert_eq!(fetched.as_ref(), candles.as_slice());
        let missing = Archive::fetch_url(&url.replacen("/data?", "/data/nope.csv?", 1))
            .await
            .unwrap_err();
        assert!(missing.is_not_found(), "{missing}");
    }
}
