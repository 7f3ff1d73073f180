//! `axle-cyclictest`: timer wake-up latency of real-time threads, in the manner of
//! rt-tests' cyclictest. Each measurement thread is pinned to a CPU, asks for SCHED_FIFO
//! (or another class), and sleeps to absolute CLOCK_MONOTONIC deadlines one interval
//! apart (`clock_nanosleep(TIMER_ABSTIME)`); the latency of a wake-up is the time read
//! right after it minus the deadline. It reports min/avg/p50/p99/p99.9/max, overruns,
//! migrations, and a histogram, and checks with `sched_getscheduler`/`sched_getparam` and
//! `getcpu` that every thread really ran in the class and on the CPU it asked for. Usage:
//! `axle-cyclictest --help`; documented in docs/rt-tools.md.

use rt_tools::args::{parse_cpu_list, Args};
use rt_tools::stats::{linear_histogram, log_bucket_label, log_histogram, summarize, us, Summary};
use rt_tools::sys;
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Barrier};

const USAGE: &str = "usage: axle-cyclictest [options]
  -t, --threads N       measurement threads (default: one per CPU of --affinity, or per
                        CPU this process may use)
  -a, --affinity LIST   CPUs to pin the threads to, cycled (e.g. 1-3); default: every CPU
                        this process may use
      --no-pin          do not pin the threads
  -p, --priority P      real-time priority (default 80)
      --policy NAME     fifo (default), rr, other, batch or idle
  -i, --interval T      wake-up period (default 1000us; a bare number is in us)
  -l, --loops N         wake-ups per thread
  -D, --duration T      how long to run when no --loops is given (default 10s)
  -m, --mlockall        lock all memory (mlockall MCL_CURRENT|MCL_FUTURE)
      --histogram US    linear histogram range for --output (default 1000 us)
  -o, --output FILE     also write the results: FILE.json as JSON, else CSV
      --strict          exit 3 if a thread did not get the class, priority or CPU asked for
  -q, --quiet           no histogram in the text report
Exit status: 0 measured; 1 a thread could not measure; 2 usage; 3 --strict and a thread
ran in the wrong class or on the wrong CPU.";

/// Samples kept per thread (4 bytes each).
const MAX_SAMPLES: u64 = 8 << 20;

struct Options {
    threads: Option<usize>,
    affinity: Option<Vec<usize>>,
    pin: bool,
    priority: i32,
    policy: i32,
    interval_ns: u64,
    loops: Option<u64>,
    duration_ns: u64,
    mlockall: bool,
    histogram_us: usize,
    output: Option<String>,
    strict: bool,
    quiet: bool,
}

fn parse_options() -> Result<Option<Options>, String> {
    let mut o = Options {
        threads: None,
        affinity: None,
        pin: true,
        priority: 80,
        policy: sys::SCHED_FIFO,
        interval_ns: 1_000_000,
        loops: None,
        duration_ns: 10_000_000_000,
        mlockall: false,
        histogram_us: 1000,
        output: None,
        strict: false,
        quiet: false,
    };
    let mut a = Args::new(std::env::args().skip(1));
    while let Some(opt) = a.next_arg() {
        match opt.as_str() {
            "-h" | "--help" => return Ok(None),
            "-t" | "--threads" => o.threads = Some(a.number(&opt)?),
            "-a" | "--affinity" => o.affinity = Some(parse_cpu_list(&a.value(&opt)?)?),
            "--no-pin" => o.pin = false,
            "-p" | "--priority" => o.priority = a.number(&opt)?,
            "--policy" => {
                let v = a.value(&opt)?;
                o.policy = sys::parse_policy(&v).ok_or_else(|| format!("--policy: unknown class `{v}`"))?;
            }
            "-i" | "--interval" => o.interval_ns = a.duration_ns(&opt, 1_000)?,
            "-l" | "--loops" => o.loops = Some(a.number(&opt)?),
            "-D" | "--duration" => o.duration_ns = a.duration_ns(&opt, 1_000_000_000)?,
            "-m" | "--mlockall" => o.mlockall = true,
            "--histogram" => o.histogram_us = a.number(&opt)?,
            "-o" | "--output" => o.output = Some(a.value(&opt)?),
            "--strict" => o.strict = true,
            "-q" | "--quiet" => o.quiet = true,
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    if o.interval_ns < 1_000 {
        return Err("--interval must be at least 1us".into());
    }
    if o.threads == Some(0) {
        return Err("--threads must be at least 1".into());
    }
    if !matches!(o.policy, sys::SCHED_FIFO | sys::SCHED_RR) {
        o.priority = 0;
    }
    Ok(Some(o))
}

/// What one measurement thread found.
struct ThreadResult {
    index: usize,
    cpu: Option<usize>,
    /// (policy, priority) the thread ran with, from sched_getscheduler/sched_getparam.
    got: Option<(i32, i32)>,
    /// Why the class or CPU differs from what was asked, if it does.
    problems: Vec<String>,
    samples: Vec<u32>,
    early: u64,
    earliest_ns: i64,
    overruns: u64,
    migrations: u64,
    error: Option<String>,
}

fn class_label(policy: i32, priority: i32) -> String {
    if matches!(policy & !0x4000_0000, sys::SCHED_FIFO | sys::SCHED_RR) {
        format!("{}/{priority}", sys::policy_name(policy))
    } else {
        sys::policy_name(policy)
    }
}

fn measure(index: usize, cpu: Option<usize>, o: &Options, loops: u64, start: &Barrier) -> ThreadResult {
    let mut r = ThreadResult {
        index,
        cpu,
        got: None,
        problems: Vec::new(),
        samples: Vec::new(),
        early: 0,
        earliest_ns: 0,
        overruns: 0,
        migrations: 0,
        error: None,
    };
    if let Some(c) = cpu {
        if let Err(e) = sys::pin_to_cpu(c) {
            r.problems.push(format!("could not pin to CPU {c} ({})", sys::errno_name(&e)));
            r.cpu = None;
        }
    }
    let asked = class_label(o.policy, o.priority);
    if let Err(e) = sys::set_scheduler(o.policy, o.priority) {
        let why = if e.raw_os_error() == Some(libc::EPERM) {
            " (not permitted: needs root, CAP_SYS_NICE or RLIMIT_RTPRIO on Linux, a profile rule in Axle)"
        } else {
            ""
        };
        r.problems.push(format!("sched_setscheduler({asked}) failed: {}{why}", sys::errno_name(&e)));
    }
    match sys::get_scheduler() {
        Ok((policy, prio)) => {
            r.got = Some((policy, prio));
            let matches_class = policy & !0x4000_0000 == o.policy && (o.priority == 0 || prio == o.priority);
            if !matches_class {
                r.problems.push(format!("asked {asked}, sched_getscheduler says {}", class_label(policy, prio)));
            }
        }
        Err(e) => r.problems.push(format!("sched_getscheduler failed: {}", sys::errno_name(&e))),
    }
    // Preallocate (and touch) the sample buffer before measuring.
    let keep = loops.min(MAX_SAMPLES) as usize;
    r.samples.resize(keep, 0);
    r.samples.clear();

    start.wait();
    let interval = o.interval_ns;
    let mut next = sys::now_ns() + interval;
    'outer: for _ in 0..loops {
        loop {
            match sys::sleep_until_ns(next) {
                Ok(()) => break,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {
                    if sys::stop_requested() {
                        break 'outer;
                    }
                }
                Err(e) => {
                    r.error = Some(format!("clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) failed: {}", sys::errno_name(&e)));
                    break 'outer;
                }
            }
        }
        let now = sys::now_ns();
        let latency = now as i64 - next as i64;
        if latency < 0 {
            // Woken before the deadline: a kernel bug; counted, recorded as 0.
            r.early += 1;
            r.earliest_ns = r.earliest_ns.min(latency);
            r.samples.push(0);
        } else {
            r.samples.push(latency.min(u32::MAX as i64) as u32);
        }
        if let Some(c) = r.cpu {
            if sys::current_cpu().is_ok_and(|now_cpu| now_cpu != c) {
                r.migrations += 1;
            }
        }
        next += interval;
        if next <= now {
            let missed = (now - next) / interval + 1;
            r.overruns += missed;
            next += missed * interval;
        }
        if sys::stop_requested() {
            break;
        }
    }
    if r.migrations > 0 {
        r.problems.push(format!("{} wake-ups on a CPU other than {}", r.migrations, r.cpu.unwrap_or(0)));
    }
    // The class may not change under a thread that did not ask; check again at the end.
    if let (Ok(end), Some(begin)) = (sys::get_scheduler(), r.got) {
        if end != begin {
            r.problems.push(format!(
                "class changed while measuring: {} -> {}",
                class_label(begin.0, begin.1),
                class_label(end.0, end.1)
            ));
        }
    }
    r
}

fn row(label: &str, cpu: &str, class: &str, s: &Summary, overruns: u64, migrations: u64) -> String {
    format!(
        "{label:<6} {cpu:>4} {class:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {overruns:>8} {migrations:>6}",
        s.samples,
        us(s.min_ns),
        us(s.avg_ns),
        us(s.p50_ns),
        us(s.p99_ns),
        us(s.p999_ns),
        us(s.max_ns)
    )
}

fn write_output(path: &str, o: &Options, results: &[ThreadResult], all: &[u32]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let json = path.ends_with(".json");
    let summary_json = |s: &Option<Summary>| match s {
        Some(s) => format!(
            "\"samples\": {}, \"min_us\": {}, \"avg_us\": {}, \"p50_us\": {}, \"p99_us\": {}, \"p999_us\": {}, \"max_us\": {}",
            s.samples,
            us(s.min_ns),
            us(s.avg_ns),
            us(s.p50_ns),
            us(s.p99_ns),
            us(s.p999_ns),
            us(s.max_ns)
        ),
        None => "\"samples\": 0".into(),
    };
    if json {
        writeln!(f, "{{")?;
        writeln!(f, "  \"tool\": \"axle-cyclictest\",")?;
        writeln!(f, "  \"interval_us\": {},", us(o.interval_ns))?;
        writeln!(f, "  \"asked\": \"{}\",", class_label(o.policy, o.priority))?;
        writeln!(f, "  \"threads\": [")?;
        for (i, r) in results.iter().enumerate() {
            let got = r.got.map_or("null".into(), |(p, q)| format!("\"{}\"", class_label(p, q)));
            let cpu = r.cpu.map_or("null".into(), |c| c.to_string());
            let problems: Vec<String> = r.problems.iter().map(|p| format!("\"{}\"", p.replace('"', "'"))).collect();
            writeln!(
                f,
                "    {{\"thread\": {}, \"cpu\": {cpu}, \"got\": {got}, \"as_asked\": {}, \"problems\": [{}], {}, \"overruns\": {}, \"migrations\": {}, \"early\": {}}}{}",
                r.index,
                r.problems.is_empty(),
                problems.join(", "),
                summary_json(&summarize(&r.samples)),
                r.overruns,
                r.migrations,
                r.early,
                if i + 1 < results.len() { "," } else { "" }
            )?;
        }
        writeln!(f, "  ],")?;
        writeln!(f, "  \"all\": {{{}}},", summary_json(&summarize(all)))?;
        let h = linear_histogram(all, o.histogram_us);
        let counts: Vec<String> = h.iter().map(|c| c.to_string()).collect();
        writeln!(
            f,
            "  \"histogram\": {{\"bucket_us\": 1, \"overflow_from_us\": {}, \"counts\": [{}]}}",
            o.histogram_us,
            counts.join(", ")
        )?;
        writeln!(f, "}}")?;
    } else {
        writeln!(f, "# axle-cyclictest interval {} us, asked {}", us(o.interval_ns), class_label(o.policy, o.priority))?;
        for r in results {
            let got = r.got.map_or("unknown".into(), |(p, q)| class_label(p, q));
            match summarize(&r.samples) {
                Some(s) => writeln!(
                    f,
                    "# T{} cpu {} {got} samples {} min {} avg {} p50 {} p99 {} p99.9 {} max {} us overruns {} migrations {}",
                    r.index,
                    r.cpu.map_or("any".into(), |c| c.to_string()),
                    s.samples,
                    us(s.min_ns),
                    us(s.avg_ns),
                    us(s.p50_ns),
                    us(s.p99_ns),
                    us(s.p999_ns),
                    us(s.max_ns),
                    r.overruns,
                    r.migrations
                )?,
                None => writeln!(f, "# T{} no samples", r.index)?,
            }
        }
        let hists: Vec<Vec<u64>> = results.iter().map(|r| linear_histogram(&r.samples, o.histogram_us)).collect();
        let all_h = linear_histogram(all, o.histogram_us);
        let names: Vec<String> = results.iter().map(|r| format!("T{}", r.index)).collect();
        writeln!(f, "latency_us,{},all", names.join(","))?;
        for b in 0..=o.histogram_us {
            let label = if b == o.histogram_us { format!(">={b}") } else { b.to_string() };
            let cols: Vec<String> = hists.iter().map(|h| h[b].to_string()).collect();
            writeln!(f, "{label},{},{}", cols.join(","), all_h[b])?;
        }
    }
    f.flush()
}

fn main() -> ExitCode {
    let o = match parse_options() {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("axle-cyclictest: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let loops = o.loops.unwrap_or(o.duration_ns / o.interval_ns).max(1);
    if loops > MAX_SAMPLES {
        eprintln!("axle-cyclictest: {loops} wake-ups per thread is more than the {MAX_SAMPLES} this tool keeps; shorten --duration or --loops");
        return ExitCode::from(2);
    }
    let allowed = sys::allowed_cpus().unwrap_or_else(|e| {
        eprintln!("axle-cyclictest: sched_getaffinity failed ({}); assuming CPUs 0-{}", sys::errno_name(&e), sys::online_cpus() - 1);
        (0..sys::online_cpus()).collect()
    });
    let cpus = o.affinity.clone().unwrap_or_else(|| allowed.clone());
    let nthreads = o.threads.unwrap_or(cpus.len().max(1));
    sys::install_stop_handler();
    if o.mlockall {
        match sys::lock_memory() {
            Ok(()) => println!("# mlockall: memory locked"),
            Err(e) => println!("# mlockall failed ({}); continuing without locked memory", sys::errno_name(&e)),
        }
    }
    println!(
        "# axle-cyclictest: {nthreads} threads, {}, interval {} us, {loops} wake-ups each, {}",
        class_label(o.policy, o.priority),
        us(o.interval_ns),
        if o.pin { format!("pinned to CPUs {cpus:?} (cycled)") } else { "not pinned".into() }
    );

    let start = Arc::new(Barrier::new(nthreads));
    let o = Arc::new(o);
    let mut handles = Vec::new();
    for i in 0..nthreads {
        let cpu = if o.pin && !cpus.is_empty() { Some(cpus[i % cpus.len()]) } else { None };
        let (start, o2) = (start.clone(), o.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("cyclic-{i}"))
            .spawn(move || measure(i, cpu, &o2, loops, &start));
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                eprintln!("axle-cyclictest: cannot create thread {i}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let results: Vec<ThreadResult> = handles.into_iter().map(|h| h.join().expect("measurement thread panicked")).collect();

    let mut failed = false;
    let mut not_as_asked = 0;
    for r in &results {
        let got = r.got.map_or("unknown".into(), |(p, q)| class_label(p, q));
        let cpu = r.cpu.map_or("any CPU".into(), |c| format!("CPU {c}"));
        if r.problems.is_empty() {
            println!("# T{} {cpu}: ran {got} as asked (checked with sched_getscheduler/sched_getparam and getcpu)", r.index);
        } else {
            not_as_asked += 1;
            println!("# T{} {cpu}: NOT AS ASKED, ran {got}: {}", r.index, r.problems.join("; "));
        }
        if r.early > 0 {
            println!("# T{}: {} wake-ups BEFORE the deadline (earliest {} ns early): a kernel timer bug", r.index, r.early, -r.earliest_ns);
        }
        if let Some(e) = &r.error {
            println!("# T{}: {e}", r.index);
            failed = true;
        }
    }
    println!(
        "{:<6} {:>4} {:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>6}",
        "thread", "cpu", "class", "samples", "min_us", "avg_us", "p50_us", "p99_us", "p99.9_us", "max_us", "overruns", "migr"
    );
    let mut all: Vec<u32> = Vec::new();
    for r in &results {
        all.extend_from_slice(&r.samples);
        let got = r.got.map_or("unknown".into(), |(p, q)| class_label(p, q));
        let cpu = r.cpu.map_or("-".into(), |c| c.to_string());
        match summarize(&r.samples) {
            Some(s) => println!("{}", row(&format!("T{}", r.index), &cpu, &got, &s, r.overruns, r.migrations)),
            None => println!("T{:<5} {cpu:>4} {got:<14} no samples", r.index),
        }
    }
    if let Some(s) = summarize(&all) {
        let overruns = results.iter().map(|r| r.overruns).sum();
        let migrations = results.iter().map(|r| r.migrations).sum();
        println!("{}", row("all", "-", "", &s, overruns, migrations));
        if !o.quiet {
            println!("# histogram (all threads):");
            let h = log_histogram(&all);
            let peak = *h.iter().max().unwrap_or(&1);
            for (i, count) in h.iter().enumerate() {
                if *count > 0 {
                    let bar = "#".repeat(((*count * 50).div_ceil(peak)) as usize);
                    println!("#   {:>14} {count:>9} {bar}", log_bucket_label(i));
                }
            }
        }
    } else {
        failed = true;
    }
    if let Some(path) = &o.output {
        match write_output(path, &o, &results, &all) {
            Ok(()) => println!("# results written to {path}"),
            Err(e) => {
                eprintln!("axle-cyclictest: cannot write {path}: {e}");
                failed = true;
            }
        }
    }
    if not_as_asked > 0 {
        println!("# WARNING: {not_as_asked} of {} threads did not run as asked: these are not the latencies of {}", results.len(), class_label(o.policy, o.priority));
    }
    if failed {
        ExitCode::from(1)
    } else if o.strict && not_as_asked > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}
