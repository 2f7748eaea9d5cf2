//! `--once` stop rules without a server: a phone that can never resync
//! (`Provision_Enable = No`) ends instead of hanging and counts as a
//! failure; a `gds://` rule is class C (not simulated); several phones
//! each report one outcome.

mod common;

use phoneprov_sim::run_fleet;

#[tokio::test]
async fn once_ends_when_nothing_can_happen() {
    let r = run_fleet(common::one_phone(&[("Provision_Enable", "No")]))
        .await
        .unwrap();
    assert_eq!(r.phones_without_resync, 1, "{}", r.to_text());
    assert_eq!(r.resyncs.a + r.resyncs.b + r.resyncs.c, 0);
    assert_eq!(r.once_exit_code(), 1);
}

#[tokio::test]
async fn once_gds_rule_is_class_c_for_every_phone() {
    let mut cfg = common::one_phone(&[("Profile_Rule", "gds://")]);
    cfg.count = 3;
    let r = run_fleet(cfg).await.unwrap();
    assert_eq!(r.resyncs.c, 3, "{}", r.to_text());
    assert_eq!(r.phones_failed, 3);
    assert!(r.final_params.is_none(), "final values only for --count 1");
}
