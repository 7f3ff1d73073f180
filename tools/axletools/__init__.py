"""Host-side helpers for Axle's tools (runner, image builder, benchmarks). Stdlib only."""
