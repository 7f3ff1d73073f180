//! `axle-profile`: checks, compiles and tries out dataflow profiles on the host.
//!
//! ```text
//! axle-profile check FILE [--cpus N]              validate (TOML or compiled form)
//! axle-profile compile FILE -o OUT [--cpus N]     validate, then write the compiled form
//! axle-profile match FILE --cpus N --exe PATH [--arg A]... [--env K=V]...
//!                    [--node-config YAML_FILE] [--thread NAME] [--main]
//!                                                 where would this thread run?
//! ```
//!
//! Without `--cpus`, a profile is validated for every CPU count 1..=64 and is accepted when
//! it is valid for at least one (the kernel validates again for the machine it boots on).
//! Exit status: 0 valid, 1 invalid profile, 2 usage or I/O error.
#![deny(unsafe_code)]

use dataflow_profile::{compiled, toml_front, validate, CpuSet, Profile, ProfileError, ProfileSpec};
use std::process::ExitCode;

const USAGE: &str = "usage:
  axle-profile check FILE [--cpus N]
  axle-profile compile FILE -o OUT [--cpus N]      (OUT `-` is standard output)
  axle-profile match FILE --cpus N --exe PATH [--arg A]... [--env K=V]...
                     [--node-config YAML_FILE] [--thread NAME] [--main]";

/// CPU counts tried when `--cpus` is not given.
const TRY_CPUS: u32 = 64;

struct Args {
    command: String,
    file: String,
    cpus: Option<u32>,
    out: Option<String>,
    exe: Option<String>,
    argv: Vec<String>,
    env: Vec<String>,
    node_config: Option<String>,
    thread: Option<String>,
    main_thread: bool,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let command = it.next().ok_or("missing command")?;
    if !matches!(command.as_str(), "check" | "compile" | "match") {
        return Err(format!("unknown command `{command}`"));
    }
    let mut a = Args {
        command,
        file: String::new(),
        cpus: None,
        out: None,
        exe: None,
        argv: Vec::new(),
        env: Vec::new(),
        node_config: None,
        thread: None,
        main_thread: false,
    };
    let mut file = None;
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--cpus" => {
                let v = value("--cpus")?;
                a.cpus = Some(v.parse().map_err(|_| format!("--cpus: `{v}` is not a number"))?);
            }
            "-o" | "--output" => a.out = Some(value("-o")?),
            "--exe" => a.exe = Some(value("--exe")?),
            "--arg" => a.argv.push(value("--arg")?),
            "--env" => a.env.push(value("--env")?),
            "--node-config" => a.node_config = Some(value("--node-config")?),
            "--thread" => a.thread = Some(value("--thread")?),
            "--main" => a.main_thread = true,
            s if s.starts_with('-') && s != "-" => return Err(format!("unknown option `{s}`")),
            _ if file.is_none() => file = Some(arg),
            _ => return Err(format!("unexpected argument `{arg}`")),
        }
    }
    a.file = file.ok_or("missing FILE")?;
    if a.command == "compile" && a.out.is_none() {
        return Err("compile needs -o OUT".into());
    }
    if a.command == "match" && (a.cpus.is_none() || a.exe.is_none()) {
        return Err("match needs --cpus N and --exe PATH".into());
    }
    Ok(a)
}

/// TOML or compiled form, told apart by the compiled form's first line.
fn read_spec(path: &str) -> Result<ProfileSpec, Vec<ProfileError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ProfileError::new(
            dataflow_profile::ErrorKind::Syntax,
            dataflow_profile::Location::Profile,
            "",
            format!("cannot read {path}: {e}"),
        )]
    })?;
    let is_compiled = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l == compiled::MAGIC);
    if is_compiled {
        compiled::parse(&text)
    } else {
        toml_front::parse(&text)
    }
}

fn print_errors(path: &str, errors: &[ProfileError]) {
    for e in errors {
        eprintln!("{path}: {e}");
    }
}

/// Validates for `--cpus N`, or for every count 1..=64. Returns the profile (for the given
/// count, or the largest valid one) and the counts it is valid for.
fn check(path: &str, spec: &ProfileSpec, cpus: Option<u32>) -> Option<(Profile, CpuSet)> {
    if let Some(n) = cpus {
        return match validate(spec, n) {
            Ok(p) => Some((p, CpuSet::from_cpus(&[n]))),
            Err(e) => {
                print_errors(path, &e);
                eprintln!("{path}: invalid for {n} CPUs ({} errors)", e.len());
                None
            }
        };
    }
    let mut valid = CpuSet::new();
    let mut best: Option<Profile> = None;
    let mut fewest: Option<(usize, u32, Vec<ProfileError>)> = None;
    for n in 1..=TRY_CPUS {
        match validate(spec, n) {
            Ok(p) => {
                valid.insert(n);
                best = Some(p);
            }
            Err(e) => {
                if fewest.as_ref().is_none_or(|(count, _, _)| e.len() < *count) {
                    fewest = Some((e.len(), n, e));
                }
            }
        }
    }
    match best {
        Some(p) => Some((p, valid)),
        None => {
            let (count, n, errors) = fewest.expect("some count was tried");
            print_errors(path, &errors);
            eprintln!("{path}: invalid for every CPU count 1-{TRY_CPUS} (shown: {n} CPUs, {count} errors)");
            None
        }
    }
}

fn run(a: Args) -> Result<ExitCode, String> {
    let spec = match read_spec(&a.file) {
        Ok(s) => s,
        Err(e) => {
            print_errors(&a.file, &e);
            return Ok(ExitCode::from(1));
        }
    };
    let Some((profile, valid)) = check(&a.file, &spec, a.cpus) else {
        return Ok(ExitCode::from(1));
    };
    match a.command.as_str() {
        "check" => {
            print!("{profile}");
            println!("{}: valid for CPU counts {valid}", a.file);
        }
        "compile" => {
            let mut text = format!("# compiled from {} by axle-profile; valid for CPU counts {valid}\n", a.file);
            text.push_str(&compiled::write(&spec));
            let out = a.out.as_deref().unwrap_or("-");
            if out == "-" {
                print!("{text}");
            } else {
                std::fs::write(out, text).map_err(|e| format!("cannot write {out}: {e}"))?;
                eprintln!("{}: compiled to {out} (valid for CPU counts {valid})", a.file);
            }
        }
        _ => {
            let yaml;
            let mut env: Vec<String> = a.env.clone();
            if let Some(path) = &a.node_config {
                yaml = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
                env.push(format!("{}={yaml}", dataflow_profile::nodeconfig::ENV_NAME));
            }
            let exe = a.exe.as_deref().unwrap_or_default();
            let mut argv: Vec<&[u8]> = vec![exe.as_bytes()];
            argv.extend(a.argv.iter().map(|s| s.as_bytes()));
            let env: Vec<&[u8]> = env.iter().map(|s| s.as_bytes()).collect();
            let id = profile.identify(exe.as_bytes(), &argv, &env);
            let default_name = exe.rsplit('/').next().unwrap_or(exe);
            let thread = a.thread.as_deref().unwrap_or(&default_name[..default_name.len().min(15)]);
            let main_thread = a.main_thread || a.thread.is_none();
            let pl = profile.place(&id, thread.as_bytes(), main_thread);
            println!(
                "process: exe {exe}, role {}, node id {}",
                id.role.map_or("none", |r| r.name()),
                id.node_id.as_deref().unwrap_or("none")
            );
            println!("thread `{thread}`{}:", if main_thread { " (main)" } else { "" });
            match profile.rule(&pl) {
                Some(r) => println!("  rule `{}` -> {} on CPUs {}", r.name, pl.policy, pl.cpus),
                None => println!("  no rule (default) -> {} on CPUs {}", pl.policy, pl.cpus),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return if args.is_empty() { ExitCode::from(2) } else { ExitCode::SUCCESS };
    }
    match parse_args(args.into_iter()).and_then(run) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("axle-profile: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
