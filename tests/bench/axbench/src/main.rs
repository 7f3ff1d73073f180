//! axbench: `axbench NAME [--key value]...` runs one benchmark; `axbench plan FILE` runs a
//! plan (see the library's documentation and docs/benchmarks.md); `axbench list` lists the
//! benchmarks.

use axbench::args::Args;
use axbench::benches::ALL;
use axbench::out;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = argv.first() else {
        eprintln!("usage: axbench NAME [--key value]... | axbench plan FILE | axbench list");
        std::process::exit(2);
    };
    let result = match name.as_str() {
        "list" => {
            for (name, _, what) in ALL {
                println!("{name:14} {what}");
            }
            Ok(())
        }
        "plan" => match argv.get(1) {
            Some(path) => axbench::plan::run_file(path),
            None => Err("usage: axbench plan FILE".to_string()),
        },
        _ => match ALL.iter().find(|(n, _, _)| n == name) {
            Some((_, bench, _)) => Args::parse(&argv[1..]).and_then(|a| bench(&a)),
            None => Err(format!("unknown benchmark {name:?} (axbench list)")),
        },
    };
    if let Err(e) = result {
        out::error(&format!("{name}: {e}"));
        std::process::exit(1);
    }
}
