//! bench-nop: the static program the spawn benchmark starts; it exits 0 at once.

fn main() {}
