//! Every input a fuzzer or a hostile-input report ever found a defect with, kept in
//! `fuzz/regressions/TARGET/`, run through the same reader as its fuzz target (`vigil::harness`):
//! each must return, neither panicking nor hanging.

use std::fs;
use std::path::Path;

#[test]
fn every_kept_input_is_read_without_a_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut run = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let target_dir = entry.unwrap().path();
        let target = target_dir
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            vigil::harness::TARGETS.contains(&target.as_str()),
            "{} names no fuzz target",
            target_dir.display()
        );
        for input in fs::read_dir(&target_dir).unwrap() {
            let input = input.unwrap().path();
            let data = fs::read(&input).unwrap();
            assert!(vigil::harness::run(&target, &data));
            run += 1;
        }
    }
    assert!(
        run >= vigil::harness::TARGETS.len(),
        "only {run} inputs kept"
    );
}
