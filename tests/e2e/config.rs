//! Configuration that is not secret: declared in the manifest, set per
//! action in the policy, read through the `config` interface, recorded in
//! `run.start`; anything that does not fit is refused before compiling.

use airlock::Error;
use airlock::report::Code;
use airlock_tests::{Setup, probe_manifest, probe_with, run_many};
use serde_json::json;

const DECLARED: &str = "\
[config.channel]
type = \"string\"
default = \"general\"
description = \"Where to post\"

[config.retries]
type = \"integer\"
required = true

[config.dry_run]
type = \"boolean\"
";

fn setup_with(policy: &str) -> Setup {
    let mut setup = Setup::new();
    let manifest = format!("{}\n{DECLARED}", probe_manifest("", ""));
    setup.action("probe", &probe_with(&manifest));
    setup.policy(policy);
    setup
}

#[tokio::test(flavor = "multi_thread")]
async fn declared_keys_read_the_policy_value_or_the_default_and_run_start_records_them() {
    let setup = setup_with("[actions.probe.config]\nretries = 3\ndry_run = true\n");
    let ops = [
        json!({"op": "config", "name": "channel"}),
        json!({"op": "config", "name": "retries"}),
        json!({"op": "config", "name": "dry_run"}),
        json!({"op": "config", "name": "token"}),
    ];
    let (out, _) = run_many(&setup, &ops).await;
    assert_eq!(out[0], json!({"ok": "general"}));
    assert_eq!(out[1], json!({"ok": "3"}));
    assert_eq!(out[2], json!({"ok": "true"}));
    assert_eq!(
        out[3]["err"],
        "config `token` is not declared: add [config.token] to action.toml"
    );

    let start = &setup.events("run.start")[0];
    assert_eq!(
        start["grant"]["config"],
        json!({"channel": "general", "dry_run": true, "retries": 3})
    );
    let reads = setup.events("config.read");
    assert_eq!(reads.len(), 1, "only the refusal is a record: {reads:?}");
    assert_eq!(reads[0]["decision"], "deny");
    assert_eq!(reads[0]["target"], "token");
    assert!(
        reads[0]["reason"]
            .as_str()
            .unwrap()
            .contains("must declare it under [config.token]"),
        "{}",
        reads[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_optional_key_without_value_is_none_and_the_policy_overrides_the_default() {
    let setup = setup_with("[actions.probe.config]\nretries = 0\nchannel = \"ops\"\n");
    let ops = [
        json!({"op": "config", "name": "channel"}),
        json!({"op": "config", "name": "dry_run"}),
    ];
    let (out, _) = run_many(&setup, &ops).await;
    assert_eq!(out, [json!({"ok": "ops"}), json!({"ok": null})]);
    let start = &setup.events("run.start")[0];
    assert_eq!(
        start["grant"]["config"],
        json!({"channel": "ops", "retries": 0})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_that_does_not_fit_the_declaration_is_refused_and_recorded() {
    let cases = [
        (
            "[actions.probe.config]\nretries = 1\nchanel = \"ops\"\n",
            "the policy sets config `chanel` for action `probe`, which its manifest does not declare",
        ),
        (
            "[actions.probe.config]\nretries = \"1\"\n",
            "the policy sets config `retries` for action `probe` to a string, but its manifest declares an integer",
        ),
        (
            "[actions.probe.config]\nretries = 1\ndry_run = \"yes\"\n",
            "to a string, but its manifest declares a boolean: fix [actions.probe.config] dry_run",
        ),
        (
            "",
            "action `probe` requires config `retries` (an integer), which the policy does not set: \
             add retries = … under [actions.probe.config]",
        ),
    ];
    for (policy, want) in cases {
        let setup = setup_with(policy);
        let err = setup
            .host()
            .invoke("probe", r#"{"op": "counter"}"#)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Refused(_)) && err.to_string().contains(want),
            "{policy:?}: {err}"
        );
        assert_eq!(Code::of_error(&err), Code::BadPolicy, "{policy:?}");
        let refused = setup.events("run.refused");
        assert_eq!(refused.len(), 1, "{policy:?}");
        assert!(
            refused[0]["reason"].as_str().unwrap().contains(want),
            "{policy:?}: {}",
            refused[0]
        );
        assert!(setup.events("run.start").is_empty(), "{policy:?}");
    }
}
