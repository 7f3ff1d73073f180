//! DEADLINE admission: can the reservations of the DEADLINE rules be spread over their CPU
//! sets so that no CPU carries more than the bound (sum of runtime/period, default 95%)?
//!
//! Each rule asks for `threads x runtime/period` of CPU time anywhere in its CPU set. That
//! is a transportation problem; it is solved exactly as a maximum flow (source -> rule with
//! the rule's demand, rule -> each of its CPUs unbounded, CPU -> sink with the bound). All
//! demand flows iff the reservations fit; otherwise the minimum cut names a set of rules
//! whose demand exceeds what their CPUs can give (Hall's condition). Rules whose CPU sets
//! are single CPUs (partitioned EDF) get the plain per-CPU sum; like Linux, this checks
//! bandwidth only, not the schedulability of global EDF on several CPUs.

use crate::cpuset::CpuSet;
use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

/// One DEADLINE rule's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demand {
    /// Index of the rule (for the error).
    pub rule: usize,
    /// runtime/period of one thread in parts per million, rounded up.
    pub per_thread_ppm: u64,
    pub threads: u32,
    pub cpus: CpuSet,
}

impl Demand {
    pub fn total_ppm(&self) -> u64 {
        self.per_thread_ppm * self.threads as u64
    }
}

/// Reservations that do not fit: `rules` together ask `demand_ppm` but their CPUs `cpus`
/// give at most `capacity_ppm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overload {
    pub rules: Vec<usize>,
    pub cpus: CpuSet,
    pub demand_ppm: u64,
    pub capacity_ppm: u64,
}

/// `runtime / period` in parts per million, rounded up (so admission never under-counts).
pub fn utilisation_ppm(runtime_ns: u64, period_ns: u64) -> u64 {
    if period_ns == 0 {
        return u64::MAX;
    }
    let num = runtime_ns as u128 * 1_000_000;
    num.div_ceil(period_ns as u128).min(u64::MAX as u128) as u64
}

/// Admits `demands` on CPUs `0..ncpus` with `bound_ppm` per CPU. Returns the load each CPU
/// carries in one feasible spreading (index = CPU), or the overloaded set.
pub fn admit(demands: &[Demand], ncpus: u32, bound_ppm: u64) -> Result<Vec<u32>, Overload> {
    let r = demands.len();
    let c = ncpus as usize;
    let n = r + c + 2;
    let (source, sink) = (0, n - 1);
    let rule_node = |i: usize| 1 + i;
    let cpu_node = |cpu: usize| 1 + r + cpu;
    let mut cap = vec![0u64; n * n];
    let total: u64 = demands.iter().map(Demand::total_ppm).sum();
    for (i, d) in demands.iter().enumerate() {
        cap[source * n + rule_node(i)] = d.total_ppm();
        for cpu in d.cpus.iter().filter(|cpu| *cpu < ncpus) {
            cap[rule_node(i) * n + cpu_node(cpu as usize)] = u64::MAX / 4;
        }
    }
    for cpu in 0..c {
        cap[cpu_node(cpu) * n + sink] = bound_ppm;
    }
    let original = cap.clone();
    let mut flow = 0u64;
    // Edmonds-Karp: shortest augmenting paths in the residual graph.
    loop {
        let parent = bfs(&cap, n, source);
        if parent[sink] == usize::MAX {
            break;
        }
        let mut push = u64::MAX;
        let mut v = sink;
        while v != source {
            let u = parent[v];
            push = push.min(cap[u * n + v]);
            v = u;
        }
        let mut v = sink;
        while v != source {
            let u = parent[v];
            cap[u * n + v] -= push;
            cap[v * n + u] += push;
            v = u;
        }
        flow += push;
    }
    if flow >= total {
        let loads = (0..c)
            .map(|cpu| {
                let i = cpu_node(cpu) * n + sink;
                (original[i] - cap[i]) as u32
            })
            .collect();
        return Ok(loads);
    }
    // The source side of the minimum cut: rules whose demand cannot all flow, and the CPUs
    // they reach.
    let parent = bfs(&cap, n, source);
    let reached = |v: usize| v == source || parent[v] != usize::MAX;
    let rules: Vec<usize> = (0..r).filter(|i| reached(rule_node(*i))).map(|i| demands[i].rule).collect();
    let mut cpus = CpuSet::new();
    for cpu in 0..c {
        if reached(cpu_node(cpu)) {
            cpus.insert(cpu as u32);
        }
    }
    let demand_ppm = (0..r).filter(|i| reached(rule_node(*i))).map(|i| demands[i].total_ppm()).sum();
    Err(Overload { rules, capacity_ppm: bound_ppm * cpus.count() as u64, cpus, demand_ppm })
}

/// Breadth-first search over edges with residual capacity; `parent[v]` is the node before
/// `v` on a shortest path from `source` (`usize::MAX` when unreached).
fn bfs(cap: &[u64], n: usize, source: usize) -> Vec<usize> {
    let mut parent = vec![usize::MAX; n];
    parent[source] = source;
    let mut queue = VecDeque::new();
    queue.push_back(source);
    while let Some(u) = queue.pop_front() {
        for v in 0..n {
            if parent[v] == usize::MAX && cap[u * n + v] > 0 {
                parent[v] = u;
                queue.push_back(v);
            }
        }
    }
    parent[source] = usize::MAX;
    parent
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(rule: usize, ppm: u64, threads: u32, cpus: &str) -> Demand {
        Demand { rule, per_thread_ppm: ppm, threads, cpus: CpuSet::parse_list(cpus).unwrap() }
    }

    #[test]
    fn utilisation_rounds_up() {
        assert_eq!(utilisation_ppm(1, 3), 333_334);
        assert_eq!(utilisation_ppm(500_000, 10_000_000), 50_000);
        assert_eq!(utilisation_ppm(10, 10), 1_000_000);
        assert_eq!(utilisation_ppm(1, 0), u64::MAX);
    }

    #[test]
    fn single_cpu_sums() {
        let loads = admit(&[d(0, 400_000, 1, "1"), d(1, 500_000, 1, "1")], 2, 950_000).unwrap();
        assert_eq!(loads, [0, 900_000]);
        let e = admit(&[d(0, 400_000, 1, "1"), d(1, 600_000, 1, "1")], 2, 950_000).unwrap_err();
        assert_eq!(e.rules, [0, 1]);
        assert_eq!(e.cpus, CpuSet::from_cpus(&[1]));
        assert_eq!((e.demand_ppm, e.capacity_ppm), (1_000_000, 950_000));
    }

    #[test]
    fn spreads_over_shared_cpus() {
        // 3 x 60% on CPUs 1-2 (180% <= 190%), plus 10% pinned to CPU 1.
        let loads = admit(&[d(0, 600_000, 3, "1-2"), d(1, 100_000, 1, "1")], 3, 950_000).unwrap();
        assert_eq!(loads[0], 0);
        assert_eq!(loads[1] + loads[2], 1_900_000);
        assert!(loads[1] <= 950_000 && loads[2] <= 950_000);
    }

    #[test]
    fn names_the_overloaded_subset_only() {
        // Rules 0 and 1 on CPU 1 overflow; rule 2 on CPUs 2-3 is fine and is not blamed.
        let e = admit(&[d(0, 500_000, 1, "1"), d(1, 500_000, 1, "1"), d(2, 900_000, 2, "2-3")], 4, 950_000)
            .unwrap_err();
        assert_eq!(e.rules, [0, 1]);
        assert_eq!(e.cpus, CpuSet::from_cpus(&[1]));
        assert_eq!(e.capacity_ppm, 950_000);
    }

    #[test]
    fn nested_sets_are_exact() {
        // Rule 0 may use CPUs 1-2, rule 1 only CPU 2: 0.9 + 0.9 fits if rule 0 stays on 1.
        assert!(admit(&[d(0, 900_000, 1, "1-2"), d(1, 900_000, 1, "2")], 3, 950_000).is_ok());
        // ...but not when a third rule also needs CPU 1.
        let e = admit(&[d(0, 900_000, 1, "1-2"), d(1, 900_000, 1, "2"), d(2, 200_000, 1, "1")], 3, 950_000)
            .unwrap_err();
        assert_eq!(e.rules, [0, 1, 2]);
        assert_eq!(e.cpus, CpuSet::from_cpus(&[1, 2]));
        assert_eq!((e.demand_ppm, e.capacity_ppm), (2_000_000, 1_900_000));
    }

    #[test]
    fn nothing_to_admit() {
        assert_eq!(admit(&[], 2, 950_000).unwrap(), [0, 0]);
    }
}
