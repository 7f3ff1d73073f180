//! The profiles shipped in configs/profiles/ validate, compile and place the processes of
//! the rust-dataflow and rs-latency dataflows where their comments say; and the
//! `axle-profile` command's check / compile / match work and fail with the documented
//! exit statuses.

use dataflow_profile::{compiled, toml_front, validate, ErrorKind, Policy, Profile};
use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn default_toml() -> String {
    std::fs::read_to_string(repo().join("configs/profiles/default.toml")).unwrap()
}

fn default_profile(ncpus: u32) -> Profile {
    validate(&toml_front::parse(&default_toml()).unwrap(), ncpus).unwrap()
}

/// DORA_NODE_CONFIG as Dora 0.3.5's daemon writes it for node `id`.
fn node_env(id: &str) -> String {
    format!(
        "DORA_NODE_CONFIG=---\ndataflow_id: 0190f4c2-7e3a-7d61-9e4e-0d6c3f1b2a90\nnode_id: {id}\nrun_config:\n  inputs: {{}}\n  outputs: []\ndaemon_communication:\n  Tcp:\n    socket_addr: \"127.0.0.1:40001\"\ndataflow_descriptor:\n  nodes:\n    - id: node\n    - id: sink\ndynamic: false\n"
    )
}

#[test]
fn every_shipped_profile_is_valid_from_two_cpus() {
    let dir = repo().join("configs/profiles");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        count += 1;
        let spec = toml_front::parse(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        for n in 2..=64 {
            if let Err(e) = validate(&spec, n) {
                panic!("{} invalid for {n} CPUs: {e:?}", path.display());
            }
        }
        // Compiled and read back, it is the same profile.
        assert_eq!(compiled::parse(&compiled::write(&spec)).unwrap(), spec);
    }
    assert!(count >= 1, "no profile in {}", dir.display());
}

#[test]
fn default_profile_needs_a_realtime_cpu() {
    let spec = toml_front::parse(&default_toml()).unwrap();
    let errors = validate(&spec, 1).unwrap_err();
    assert!(errors.iter().all(|e| e.kind == ErrorKind::EmptyCpuSet && e.field == "cpus"), "{errors:?}");
    assert_eq!(errors.len(), 3, "sink, status-node and node: {errors:?}");
}

#[test]
fn default_profile_places_the_dataflows() {
    let p = default_profile(4);
    let place = |exe: &str, argv: &[&str], env: &[&str], thread: &str, main: bool| {
        let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        let env: Vec<&[u8]> = env.iter().map(|a| a.as_bytes()).collect();
        let id = p.identify(exe.as_bytes(), &argv, &env);
        let pl = p.place(&id, thread.as_bytes(), main);
        (p.rule(&pl).map(|r| r.name.clone()), pl.policy, pl.cpus.to_string())
    };
    let sink_env = node_env("sink");
    let status_env = node_env("status-node");
    let node_env_ = node_env("node");
    // Nodes of both dataflows, every thread.
    for exe in ["/add/rust-dataflow/rust-dataflow-sink", "/add/rs-latency/rs-latency-sink"] {
        assert_eq!(
            place(exe, &["sink"], &["HOME=/root", &sink_env], "tokio-runtime-w", false),
            (Some("sink".into()), Policy::Fifo { priority: 60 }, "1-3".into())
        );
    }
    assert_eq!(
        place("/add/x/rust-dataflow-status-node", &["s"], &[&status_env], "status-node", true),
        (Some("status-node".into()), Policy::Fifo { priority: 55 }, "1-3".into())
    );
    assert_eq!(
        place("/add/x/rs-latency-node", &["n"], &[&node_env_], "rs-latency-node", true),
        (Some("node".into()), Policy::Fifo { priority: 50 }, "1-3".into())
    );
    // Dora's own processes.
    assert_eq!(
        place("/bin/dora", &["/bin/dora", "daemon", "--quiet"], &[], "dora", true),
        (Some("daemon".into()), Policy::Fifo { priority: 40 }, "0".into())
    );
    assert_eq!(
        place("/bin/dora", &["/bin/dora", "coordinator", "--quiet"], &[], "tokio-runtime-w", false),
        (Some("coordinator".into()), Policy::Other { nice: 0 }, "0".into())
    );
    // The CLI and anything else: the default, on the housekeeping CPU.
    assert_eq!(
        place("/bin/dora", &["dora", "start", "dataflow.yml", "--attach"], &[], "dora", true),
        (None, Policy::Other { nice: 0 }, "0".into())
    );
    assert_eq!(place("/bin/busybox", &["sh"], &[], "sh", true), (None, Policy::Other { nice: 0 }, "0".into()));
    // The measurement tools.
    assert_eq!(
        place("/bin/axle-cyclictest", &["axle-cyclictest"], &[], "axle-cyclictest", true),
        (Some("cyclictest".into()), Policy::Fifo { priority: 90 }, "0-3".into())
    );
    assert_eq!(
        place("/bin/axle-load", &["axle-load"], &[], "hog-1", false),
        (Some("load".into()), Policy::Other { nice: 0 }, "0-3".into())
    );
}

fn axle_profile(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_axle-profile")).args(args).current_dir(repo()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_check_and_compile() {
    let (status, out, _) = axle_profile(&["check", "configs/profiles/default.toml", "--cpus", "2"]);
    assert_eq!(status, 0);
    assert!(out.contains("rule #3 `sink`: node=sink threads=all -> SCHED_FIFO priority 60 on CPUs 1"), "{out}");
    let (status, out, _) = axle_profile(&["check", "configs/profiles/default.toml"]);
    assert_eq!(status, 0);
    assert!(out.contains("valid for CPU counts 2-64"), "{out}");
    let (status, _, err) = axle_profile(&["check", "configs/profiles/default.toml", "--cpus", "1"]);
    assert_eq!(status, 1);
    assert!(err.contains("rule #3 `sink`, field `cpus`: the realtime CPU set is empty"), "{err}");

    let dir = std::env::temp_dir().join(format!("axle-profile-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_file = dir.join("profile");
    let (status, _, err) =
        axle_profile(&["compile", "configs/profiles/default.toml", "-o", out_file.to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");
    let text = std::fs::read_to_string(&out_file).unwrap();
    assert!(text.starts_with("# compiled from configs/profiles/default.toml"), "{text}");
    assert_eq!(compiled::parse(&text).unwrap(), toml_front::parse(&default_toml()).unwrap());
    // The compiled form is accepted by check too.
    let (status, out, _) = axle_profile(&["check", out_file.to_str().unwrap(), "--cpus", "3"]);
    assert_eq!(status, 0);
    assert!(out.contains("real-time CPUs 1-2"), "{out}");

    // An invalid profile: status 1 and the error names rule and field.
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"bad\"\n[cpus]\nhousekeeping = \"0\"\nrealtime = \"rest\"\n[[rule]]\nname = \"x\"\nnode = \"x\"\nclass = \"fifo\"\npriority = 150\n",
    )
    .unwrap();
    let (status, _, err) = axle_profile(&["compile", bad.to_str().unwrap(), "-o", "-"]);
    assert_eq!(status, 1);
    assert!(err.contains("rule #1 `x`, field `priority`: 150 is outside 1..=99 (SCHED_FIFO)"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_match_and_usage() {
    let dir = std::env::temp_dir().join(format!("axle-profile-match-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = dir.join("node.yml");
    std::fs::write(&yaml, node_env("sink").trim_start_matches("DORA_NODE_CONFIG=")).unwrap();
    let (status, out, _) = axle_profile(&[
        "match",
        "configs/profiles/default.toml",
        "--cpus",
        "2",
        "--exe",
        "/add/rs-latency-sink",
        "--node-config",
        yaml.to_str().unwrap(),
        "--thread",
        "tokio-runtime-w",
    ]);
    assert_eq!(status, 0);
    assert!(out.contains("node id sink"), "{out}");
    assert!(out.contains("rule `sink` -> SCHED_FIFO priority 60 on CPUs 1"), "{out}");
    let (status, out, _) =
        axle_profile(&["match", "configs/profiles/default.toml", "--cpus", "2", "--exe", "/bin/dora", "--arg", "daemon"]);
    assert_eq!(status, 0);
    assert!(out.contains("role daemon") && out.contains("rule `daemon`"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(axle_profile(&[]).0, 2);
    assert_eq!(axle_profile(&["frobnicate", "x"]).0, 2);
    assert_eq!(axle_profile(&["compile", "configs/profiles/default.toml"]).0, 2);
    assert_eq!(axle_profile(&["check", "configs/profiles/default.toml", "--cpus", "two"]).0, 2);
    assert_eq!(axle_profile(&["match", "configs/profiles/default.toml"]).0, 2);
    let (status, _, err) = axle_profile(&["check", "/nonexistent/profile.toml"]);
    assert_eq!(status, 1);
    assert!(err.contains("cannot read"), "{err}");
}
