//! Matching: a process's [`Identity`] (computed once, at `execve`) and the [`Placement`] of
//! each of its threads (at thread creation, and again when a thread is renamed). Pure
//! functions of the profile and what the kernel knows about the process.

use crate::cpuset::CpuSet;
use crate::model::{Matcher, Policy, Profile, Rule};
use crate::nodeconfig::node_id_from_env;
use crate::pattern::{basename, glob_match};
use crate::spec::{Role, Threads};
use alloc::string::String;
use alloc::vec::Vec;

/// What the rules look at in a process, kept by the kernel for the process's lifetime.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// The executable's path as the kernel resolved it for `execve` (absolute).
    pub exe: Vec<u8>,
    /// Dora's coordinator or daemon.
    pub role: Option<Role>,
    /// `node_id` from `DORA_NODE_CONFIG` in the environment.
    pub node_id: Option<String>,
}

/// Where and how a thread runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Index of the rule that placed it in [`Profile::rules`]; `None`: the default.
    pub rule: Option<usize>,
    pub policy: Policy,
    pub cpus: CpuSet,
}

/// The process's identity from its executable path, argv and environment (`KEY=VALUE`
/// entries). `dora_exe` is the glob for the file name of Dora's executable.
pub fn identify(dora_exe: &str, exe: &[u8], argv: &[&[u8]], env: &[&[u8]]) -> Identity {
    Identity { exe: exe.to_vec(), role: role_of(dora_exe, exe, argv), node_id: node_id_from_env(env) }
}

/// `dora coordinator ...` is the coordinator; `dora daemon ...` and `dora run ...` (which
/// runs the daemon in-process) are the daemon. The executable's file name, or argv[0]'s,
/// must match `dora_exe`; the subcommand is the first argument that is not an option.
fn role_of(dora_exe: &str, exe: &[u8], argv: &[&[u8]]) -> Option<Role> {
    let pattern = dora_exe.as_bytes();
    let is_dora = glob_match(pattern, basename(exe)) || argv.first().is_some_and(|a0| glob_match(pattern, basename(a0)));
    if !is_dora {
        return None;
    }
    let subcommand: &[u8] = argv.iter().skip(1).find(|a| !a.starts_with(b"-"))?;
    match subcommand {
        b"coordinator" => Some(Role::Coordinator),
        b"daemon" | b"run" => Some(Role::Daemon),
        _ => None,
    }
}

/// Whether the rule's criteria hold for thread `thread_name` of process `id`.
pub fn matches(m: &Matcher, id: &Identity, thread_name: &[u8], main_thread: bool) -> bool {
    if m.role.is_some() && m.role != id.role {
        return false;
    }
    if let Some(node) = &m.node {
        if id.node_id.as_deref() != Some(node.as_str()) {
            return false;
        }
    }
    if let Some(exe) = &m.exe {
        let subject = if exe.contains('/') { &id.exe[..] } else { basename(&id.exe) };
        if !glob_match(exe.as_bytes(), subject) {
            return false;
        }
    }
    if let Some(t) = &m.thread_name {
        if !glob_match(t.as_bytes(), thread_name) {
            return false;
        }
    }
    m.threads == Threads::All || main_thread
}

impl Profile {
    /// [`identify`] with this profile's Dora executable pattern.
    pub fn identify(&self, exe: &[u8], argv: &[&[u8]], env: &[&[u8]]) -> Identity {
        identify(&self.dora_exe, exe, argv, env)
    }

    /// The placement of a thread: the first rule that matches, else the default
    /// (unmatched threads run on the housekeeping CPUs unless `[default]` says otherwise).
    pub fn place(&self, id: &Identity, thread_name: &[u8], main_thread: bool) -> Placement {
        for (i, rule) in self.rules.iter().enumerate() {
            if matches(&rule.matcher, id, thread_name, main_thread) {
                return Placement { rule: Some(i), policy: rule.policy, cpus: rule.cpus };
            }
        }
        Placement { rule: None, policy: self.default_policy, cpus: self.default_cpus }
    }

    /// The rule a placement came from.
    pub fn rule(&self, placement: &Placement) -> Option<&Rule> {
        placement.rule.and_then(|i| self.rules.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Class, CpuSpec, ProfileSpec, RuleSpec};
    use crate::validate;

    const CONFIG_SINK: &[u8] = b"DORA_NODE_CONFIG=---\ndataflow_id: 0190f4c2-7e3a-7d61-9e4e-0d6c3f1b2a90\nnode_id: sink\nrun_config:\n  inputs: {}\n";

    fn profile() -> Profile {
        let mut spec = ProfileSpec::new("t");
        spec.housekeeping = Some(CpuSpec::parse("0").unwrap());
        spec.realtime = Some(CpuSpec::Rest);
        let mut daemon = RuleSpec::new("daemon", Class::Fifo);
        daemon.role = Some(Role::Daemon);
        daemon.priority = Some(50);
        daemon.cpus = Some(CpuSpec::Housekeeping);
        let mut sink_main = RuleSpec::new("sink-main", Class::Fifo);
        sink_main.node = Some("sink".into());
        sink_main.threads = Threads::Main;
        sink_main.priority = Some(80);
        let mut sink_tokio = RuleSpec::new("sink-tokio", Class::Rr);
        sink_tokio.node = Some("sink".into());
        sink_tokio.thread_name = Some("tokio-*".into());
        sink_tokio.priority = Some(60);
        sink_tokio.cpus = Some(CpuSpec::parse("2").unwrap());
        let mut lidar = RuleSpec::new("lidar", Class::Deadline);
        lidar.exe = Some("/opt/car/*/lidar".into());
        lidar.runtime_ns = Some(1_000_000);
        lidar.period_ns = Some(10_000_000);
        lidar.max_threads = Some(2);
        let mut logger = RuleSpec::new("logger", Class::Idle);
        logger.exe = Some("logger".into());
        spec.rules = alloc::vec![daemon, sink_main, sink_tokio, lidar, logger];
        validate(&spec, 4).unwrap()
    }

    #[test]
    fn roles_from_argv() {
        let p = profile();
        let d = p.identify(b"/usr/bin/dora", &[b"dora", b"daemon", b"--quiet"], &[]);
        assert_eq!(d.role, Some(Role::Daemon));
        let c = p.identify(b"/usr/bin/dora", &[b"/usr/bin/dora", b"coordinator", b"--quiet"], &[]);
        assert_eq!(c.role, Some(Role::Coordinator));
        let r = p.identify(b"/bin/dora", &[b"dora", b"--verbose", b"run", b"x.yml"], &[]);
        assert_eq!(r.role, Some(Role::Daemon));
        // The CLI itself and other programs have no role.
        assert_eq!(p.identify(b"/bin/dora", &[b"dora", b"start", b"x.yml"], &[]).role, None);
        assert_eq!(p.identify(b"/bin/dora", &[b"dora"], &[]).role, None);
        assert_eq!(p.identify(b"/bin/sink", &[b"sink", b"daemon"], &[]).role, None);
        // argv[0] counts too (exe resolved through a symlink to another name).
        assert_eq!(p.identify(b"/opt/dora-cli-0.3.5", &[b"dora", b"daemon"], &[]).role, Some(Role::Daemon));
    }

    #[test]
    fn node_id_from_environment() {
        let p = profile();
        let id = p.identify(b"/add/sink", &[b"sink"], &[b"HOME=/root", CONFIG_SINK]);
        assert_eq!(id.node_id.as_deref(), Some("sink"));
        assert_eq!(p.identify(b"/add/sink", &[b"sink"], &[b"HOME=/root"]).node_id, None);
    }

    #[test]
    fn first_matching_rule_places_each_thread() {
        let p = profile();
        let daemon = p.identify(b"/usr/bin/dora", &[b"dora", b"daemon"], &[]);
        let pl = p.place(&daemon, b"tokio-runtime-w", false);
        assert_eq!(pl.rule, Some(0));
        assert_eq!(pl.policy, Policy::Fifo { priority: 50 });
        assert_eq!(pl.cpus.to_string(), "0");
        assert_eq!(p.rule(&pl).unwrap().name, "daemon");

        let sink = p.identify(b"/add/sink", &[b"sink"], &[CONFIG_SINK]);
        let main = p.place(&sink, b"sink", true);
        assert_eq!((main.rule, main.policy), (Some(1), Policy::Fifo { priority: 80 }));
        assert_eq!(main.cpus.to_string(), "1-3");
        let worker = p.place(&sink, b"tokio-runtime-w", false);
        assert_eq!((worker.rule, worker.policy), (Some(2), Policy::Rr { priority: 60 }));
        assert_eq!(worker.cpus.to_string(), "2");
        // Another thread of the sink: no rule, so the default on the housekeeping CPUs.
        let other = p.place(&sink, b"logger-thread", false);
        assert_eq!((other.rule, other.policy), (None, Policy::Other { nice: 0 }));
        assert_eq!(other.cpus.to_string(), "0");
        assert!(p.rule(&other).is_none());
    }

    #[test]
    fn exe_patterns_path_and_name() {
        let p = profile();
        let lidar = p.identify(b"/opt/car/v2/lidar", &[b"lidar"], &[]);
        let pl = p.place(&lidar, b"worker", false);
        assert_eq!(pl.rule, Some(3));
        assert_eq!(pl.policy.linux_policy(), 6);
        let elsewhere = p.identify(b"/usr/bin/lidar", &[b"lidar"], &[]);
        assert_eq!(p.place(&elsewhere, b"lidar", true).rule, None);
        let logger = p.identify(b"/usr/local/bin/logger", &[b"logger"], &[]);
        assert_eq!(p.place(&logger, b"logger", true).policy, Policy::Idle);
        let not_logger = p.identify(b"/usr/local/bin/logger2", &[b"logger"], &[]);
        assert_eq!(p.place(&not_logger, b"logger", true).rule, None);
    }
}
