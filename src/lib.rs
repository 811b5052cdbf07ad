//! The clawchaos scenario suite lives in `tests/`, the benchmarks in `benches/`.
