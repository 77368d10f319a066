//! Helpers shared by the loader tests: temp files and assertions on error messages.

use std::path::PathBuf;

use barwise_data::DataError;

/// A temp dir holding one file with the given name and contents; keep the dir alive while using
/// the path.
pub fn temp_file(name: &str, contents: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    (dir, path)
}

/// Asserts that the message of `err` contains each of `parts`.
#[track_caller]
pub fn assert_message(err: &DataError, parts: &[&str]) {
    let message = err.to_string();
    for part in parts {
        assert!(message.contains(part), "message {message:?} lacks {part:?}");
    }
}
