//! RFC 2782 ordering of SRV records (R-SRV-3): a permutation, priorities
//! non-decreasing, and weights followed statistically (deterministic seed).

use phoneprov_transport::{order_srv, SrvRecord};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn rec(priority: u16, weight: u16, target: &str) -> SrvRecord {
    SrvRecord {
        priority,
        weight,
        port: 5060,
        target: target.into(),
    }
}

proptest! {
    #[test]
    fn r_srv_3_order_is_a_permutation_by_priority(
        spec in prop::collection::vec((0u16..4, 0u16..100), 0..12),
        seed in any::<u64>(),
    ) {
        let records: Vec<SrvRecord> = spec
            .iter()
            .enumerate()
            .map(|(i, (p, w))| rec(*p, *w, &format!("t{i}.example.com")))
            .collect();
        let ordered = order_srv(&records, &mut StdRng::seed_from_u64(seed));
        prop_assert_eq!(ordered.len(), records.len());
        for r in &records {
            prop_assert_eq!(ordered.iter().filter(|o| *o == r).count(), 1);
        }
        for pair in ordered.windows(2) {
            prop_assert!(pair[0].priority <= pair[1].priority);
        }
    }
}

/// Share of draws in which `target` comes first.
fn first_share(records: &[SrvRecord], target: &str, draws: u32) -> f64 {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let hits = (0..draws)
        .filter(|_| order_srv(records, &mut rng)[0].target == target)
        .count();
    hits as f64 / f64::from(draws)
}

#[test]
fn r_srv_3_5_weight_60_vs_20_first_about_75_percent() {
    // Seed example: priority 10, weights 60/20 (R-SRV-5).
    let records = [
        rec(10, 20, "pr2.example.com"),
        rec(10, 60, "pr1.example.com"),
    ];
    let share = first_share(&records, "pr1.example.com", 20_000);
    assert!(
        (share - 0.75).abs() < 0.02,
        "pr1 first in {share:.3} of draws"
    );
    // 50/30: 5/8 = 0.625.
    let records = [
        rec(10, 50, "px1.example.com"),
        rec(10, 30, "px2.example.com"),
    ];
    let share = first_share(&records, "px1.example.com", 20_000);
    assert!(
        (share - 0.625).abs() < 0.02,
        "px1 first in {share:.3} of draws"
    );
}

#[test]
fn r_srv_3_lower_priority_always_first_and_weight_zero_rarely() {
    let records = [
        rec(20, 1000, "backup.example.com"),
        rec(10, 0, "zero.example.com"),
        rec(10, 100, "main.example.com"),
    ];
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..1000 {
        let o = order_srv(&records, &mut rng);
        assert_eq!(o[2].target, "backup.example.com");
    }
    // Weight 0 competes with weight 100: first about 1/101 of the time.
    let share = first_share(&records, "zero.example.com", 20_000);
    assert!(share > 0.0 && share < 0.03, "{share}");
    // All weights 0: uniform among them.
    let zeros = [rec(1, 0, "a"), rec(1, 0, "b")];
    let share = first_share(&zeros, "a", 20_000);
    assert!((share - 0.5).abs() < 0.02, "{share}");
}
