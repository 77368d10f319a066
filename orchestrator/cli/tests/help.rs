//! The command-line interface as users see it: `--help` of every command, pinned so that a
//! change to a flag or its documentation is a visible, reviewed change.

use std::process::Command;

fn help(bin: &str, args: &[&str]) -> String {
    let out = Command::new(bin).args(args).arg("--help").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn barwise_help() {
    let bin = env!("CARGO_BIN_EXE_barwise");
    for (name, args) in [
        ("barwise", &[][..]),
        ("barwise_backtest", &["backtest"][..]),
        ("barwise_plugins", &["plugins"][..]),
        ("barwise_run", &["run"][..]),
        ("barwise_report", &["report"][..]),
    ] {
        insta::assert_snapshot!(name, help(bin, args));
    }
}

#[test]
fn runner_help() {
    insta::assert_snapshot!(
        "barwise_runner",
        help(env!("CARGO_BIN_EXE_barwise-runner"), &[])
    );
}
