//! docs/OPERATIONS.md stays true: every `barwise-ops` command in its shell blocks exists, with
//! every option it uses.

use std::process::Command;

#[test]
fn every_documented_command_and_option_exists() {
    let doc =
        std::fs::read_to_string(barwise_test_support::workspace_root().join("docs/OPERATIONS.md"))
            .unwrap();
    let mut in_block = false;
    let mut checked = 0;
    for line in doc.lines() {
        if line.starts_with("```") {
            in_block = line == "```sh";
            continue;
        }
        if !in_block || !line.starts_with("barwise-ops ") {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        let path: Vec<&str> = words
            .iter()
            .take_while(|w| w.chars().all(|c| c.is_ascii_lowercase()))
            .copied()
            .collect();
        assert!(!path.is_empty(), "{line}");
        let help = Command::new(env!("CARGO_BIN_EXE_barwise-ops"))
            .args(&path)
            .arg("--help")
            .output()
            .unwrap();
        assert!(
            help.status.success(),
            "`barwise-ops {}` does not exist ({line})",
            path.join(" ")
        );
        let help = String::from_utf8_lossy(&help.stdout);
        for option in words.iter().filter(|w| w.starts_with("--")) {
            let name = option.split('=').next().unwrap();
            assert!(
                help.contains(name),
                "{line}: {name} is not an option of `barwise-ops {}`",
                path.join(" ")
            );
        }
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} commands found");
}
