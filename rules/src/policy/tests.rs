use super::*;

#[test]
fn a_full_policy_parses_with_paths_resolved() {
    let text = r#"
[actions.hello]
path = "plugins/hello.wasm"
require_signature = false

[publishers.acme]
keys = ["RWT1zvNfBNdZMvGzttUrFz27FuXEYiz5d9icJDL/TQf5xmEUjBhllmPy"]

[mounts.workspace]
path = "/srv/work"
access = "read"

[secrets.TOKEN]
env = "MY_TOKEN"

[secrets.KEY]
file = "keys/key"

[limits]
memory = "64 MiB"

[audit]
sync = "none"
key = "keys/audit.key"
checkpoint_every = 50
checkpoint_interval = "5s"
segment_size = "1 MiB"
anchor_command = ["cp", "/dev/stdin", "/mnt/worm/latest"]
"#;
    let p = Policy::parse("airlock.toml", text, Path::new("/etc/airlock")).unwrap();
    assert_eq!(
        p.actions["hello"].path.as_deref(),
        Some(Path::new("/etc/airlock/plugins/hello.wasm"))
    );
    assert_eq!(p.actions["hello"].require_signature, Some(false));
    assert_eq!(
        p.publishers["acme"].keys[0].id().to_string(),
        "3259D7045FF3CEF5"
    );
    assert_eq!(p.trust.lock, Path::new("/etc/airlock/airlock.lock"));
    assert!(p.trust.require_signature);
    assert_eq!(
        p.mounts["workspace"],
        MountPolicy {
            path: "/srv/work".into(),
            access: Access::Read
        }
    );
    assert_eq!(p.secrets["TOKEN"], SecretSource::Env("MY_TOKEN".into()));
    assert_eq!(
        p.secrets["KEY"],
        SecretSource::File("/etc/airlock/keys/key".into())
    );
    assert_eq!(p.limits.memory, ByteSize::mib(64));
    assert_eq!(p.limits.timeout, Ceilings::default().timeout);
    assert_eq!(p.audit.path, Path::new("/etc/airlock/airlock-audit.jsonl"));
    assert_eq!(p.audit.sync, SyncPolicy::None);
    assert_eq!(
        p.audit.key.as_deref(),
        Some(Path::new("/etc/airlock/keys/audit.key"))
    );
    assert_eq!(
        p.audit.checkpoints,
        Path::new("/etc/airlock/airlock-audit.checkpoints")
    );
    assert_eq!(
        (p.audit.checkpoint_every, p.audit.checkpoint_interval),
        (50, Duration::from_secs(5))
    );
    assert_eq!(p.audit.segment_size, Some(ByteSize::mib(1)));
    assert!(matches!(&p.audit.anchor, Some(Anchor::Command(c)) if c[0] == "cp"));
}

#[test]
fn the_network_table_parses() {
    let text = r#"
[network]
ca_certs = ["certs/ca.pem", "/etc/ssl/internal.pem"]
allow_private = ["10.20.0.0/16", "127.0.0.1"]

[network.hosts]
"API.Test." = ["127.0.0.1", "[::1]:8443"]

[limits]
http_requests = 5
http_response_body = "1 MiB"
"#;
    let p = Policy::parse("airlock.toml", text, Path::new("/etc/airlock")).unwrap();
    let n = &p.network;
    assert_eq!(
        n.ca_certs,
        [
            PathBuf::from("/etc/airlock/certs/ca.pem"),
            PathBuf::from("/etc/ssl/internal.pem")
        ]
    );
    assert_eq!(
        n.hosts["api.test"],
        [
            HostAddr::Ip("127.0.0.1".parse().unwrap()),
            HostAddr::Socket("[::1]:8443".parse().unwrap())
        ]
    );
    assert!(n.allow_private[0].contains("10.20.3.4".parse().unwrap()));
    assert!(n.allow_private[1].contains("127.0.0.1".parse().unwrap()));
    assert_eq!(p.limits.http_requests, 5);
    assert_eq!(p.limits.http_response_body, ByteSize::mib(1));
    assert_eq!(p.limits.http_timeout, Ceilings::default().http_timeout);
}

#[test]
fn an_empty_file_is_an_empty_policy() {
    let p = Policy::parse("airlock.toml", "", Path::new(".")).unwrap();
    assert!(p.actions.is_empty() && p.mounts.is_empty() && p.secrets.is_empty());
}

#[test]
fn errors_name_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[actions.a.config]\nid = 9007199254740992\n",
            "actions.a.config.id",
            "beyond ±9007199254740991",
        ),
        (
            "[actions.a.config]\nrate = 0.5\n",
            "actions.a.config.rate",
            "expected a string, an integer or a boolean",
        ),
        (
            "[actions.a.config]\nBad = 1\n",
            "actions.a.config.Bad",
            "not a configuration key",
        ),
        (
            "[mounts.work]\npath = \"x\"\naccess = \"rw\"\n",
            "mounts.work.access",
            "unknown variant",
        ),
        (
            "[mounts.Work]\npath = \"x\"\naccess = \"read\"\n",
            "mounts.Work",
            "not a mount name",
        ),
        (
            "[secrets.T]\nenv = \"A\"\nfile = \"b\"\n",
            "secrets.T",
            "exactly one source",
        ),
        ("[secrets.T]\n", "secrets.T", "exactly one source"),
        (
            "[secrets.T]\ncommand = \"cat key\"\n",
            "secrets.T.command",
            "unknown field `command`",
        ),
        (
            "[actions.hello]\ndigest = \"sha256:00\"\n",
            "actions.hello.digest",
            "`airlock approve hello`",
        ),
        (
            "[publishers.acme]\nkeys = [\"RWQ\"]\n",
            "publishers.acme.keys[0]",
            "not a minisign public key",
        ),
        (
            "[publishers.acme]\nkeys = []\n",
            "publishers.acme.keys",
            "at least one",
        ),
        (
            "[trust]\nrequire_signatures = false\n",
            "trust.require_signatures",
            "unknown field",
        ),
        (
            "[actions.Hello]\npath = \"x\"\n",
            "actions.Hello",
            "not an action name",
        ),
        ("[limits]\ntimeout = \"0s\"\n", "limits", "more than 0"),
        (
            "[audit]\nsync = \"sometimes\"\n",
            "audit.sync",
            "unknown variant",
        ),
        (
            "[audit]\ncheckpoint_every = 0\n",
            "audit.checkpoint_every",
            "more than 0",
        ),
        (
            "[audit]\nanchor_dir = \"a\"\nanchor_command = [\"b\"]\n",
            "audit",
            "one of anchor_dir",
        ),
        (
            "[mount.work]\npath = \"x\"\n",
            "mount",
            "unknown field `mount`",
        ),
        (
            "[network.hosts]\n\"api_test\" = [\"127.0.0.1\"]\n",
            "network.hosts.\"api_test\"",
            "not a host name",
        ),
        (
            "[network.hosts]\n\"api.test\" = [\"localhost\"]\n",
            "network.hosts.\"api.test\"[0]",
            "not an address",
        ),
        (
            "[network.hosts]\n\"api.test\" = []\n",
            "network.hosts.\"api.test\"",
            "at least one address",
        ),
        (
            "[network.hosts]\n\"API.test\" = [\"10.0.0.1\"]\n\"api.test.\" = [\"10.0.0.2\"]\n",
            "network.hosts.\"api.test.\"",
            "listed twice",
        ),
        (
            "[network]\nallow_private = [\"10.0.0.1/8\"]\n",
            "network.allow_private[0]",
            "\"10.0.0.0/8\"",
        ),
        (
            "[network]\nproxy = \"x\"\n",
            "network.proxy",
            "unknown field `proxy`",
        ),
        ("[limits]\nhttp_timeout = \"0s\"\n", "limits", "more than 0"),
        (
            "[compile]\nfunctions = 0\n",
            "compile.functions",
            "more than 0",
        ),
        (
            "[compile]\nfunction = \"0 B\"\n",
            "compile.function",
            "more than 0",
        ),
        (
            "[compile]\nfunction = \"1 MB MiB\"\n",
            "compile.function",
            "not a size unit",
        ),
        ("[compile]\nfunctions = -1\n", "compile.functions", ""),
        (
            "[compile]\nfunction_count = 10\n",
            "compile.function_count",
            "unknown field `function_count`",
        ),
    ];
    for (text, path, message) in cases {
        let e = Policy::parse("airlock.toml", text, Path::new(".")).unwrap_err();
        assert_eq!(e.path, *path, "{text}\n=> {e}");
        assert!(e.message.contains(message), "{text}\n=> {e}");
    }
}

#[test]
fn the_compile_table_parses_each_ceiling_and_defaults_the_rest() {
    let text = r#"
[compile]
component = "8 MiB"
functions = 5000
function = "256 KiB"
custom_section = 4096
timeout = "5s"
memory = "512 MiB"
"#;
    let p = Policy::parse("airlock.toml", text, Path::new(".")).unwrap();
    let d = CompileCeilings::default();
    assert_eq!(
        p.compile,
        CompileCeilings {
            component: ByteSize::mib(8),
            functions: 5000,
            function: ByteSize::kib(256),
            custom_section: ByteSize(4096),
            timeout: Duration::from_secs(5),
            memory: ByteSize::mib(512),
            ..d.clone()
        }
    );
    let empty = Policy::parse("airlock.toml", "", Path::new(".")).unwrap();
    assert_eq!(empty.compile, d);
    assert_eq!(Policy::empty("a.jsonl").compile, d);
    assert_eq!(d.timeout, Duration::from_secs(60));
    assert_eq!(d.memory, ByteSize::mib(2048));
    for zero in ["timeout = \"0s\"", "memory = 0"] {
        let err = Policy::parse(
            "airlock.toml",
            &format!("[compile]\n{zero}\n"),
            Path::new("."),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("must be more than 0"), "{zero}: {err}");
    }
}

#[test]
fn the_input_limit_defaults_to_one_mib_and_must_be_more_than_zero() {
    let parse = |text: &str| Policy::parse("airlock.toml", text, Path::new("/"));
    assert_eq!(parse("").unwrap().limits.input, ByteSize::mib(1));
    assert_eq!(
        parse("[limits]\ninput = \"4 KiB\"").unwrap().limits.input,
        ByteSize::kib(4)
    );
    let e = parse("[limits]\ninput = 0").unwrap_err().to_string();
    assert!(e.contains("limits.input: must be more than 0"), "{e}");
}

#[test]
fn each_instance_gets_its_own_log_checkpoints_and_anchor() {
    let policy = Policy::parse(
        "airlock.toml",
        "[audit]\npath = \"logs/audit.jsonl\"\ncheckpoints = \"cp/audit.checkpoints\"\n\
         anchor_dir = \"/worm\"\n",
        Path::new("/srv"),
    )
    .unwrap();
    let a = policy.audit.for_instance("worker-1.eu").unwrap();
    assert_eq!(a.path, Path::new("/srv/logs/worker-1.eu/audit.jsonl"));
    assert_eq!(
        a.checkpoints,
        Path::new("/srv/cp/worker-1.eu/audit.checkpoints")
    );
    assert_eq!(a.anchor, Some(Anchor::Dir("/worm/worker-1.eu".into())));
    assert_eq!(a.instance.as_deref(), Some("worker-1.eu"));
    assert_eq!(
        (a.key.clone(), a.sync),
        (policy.audit.key.clone(), policy.audit.sync)
    );
    let b = policy.audit.for_instance("worker-2").unwrap();
    assert_ne!(a.path, b.path);
    assert_ne!(a.checkpoints, b.checkpoints);
    assert_ne!(a.anchor, b.anchor);

    // A named key stays shared; an anchor command is kept (and told the
    // instance in its environment).
    let policy = Policy::parse(
        "airlock.toml",
        "[audit]\nkey = \"/etc/airlock/audit.key\"\nanchor_command = [\"cp\", \"/dev/stdin\", \"x\"]\n",
        Path::new("/srv"),
    )
    .unwrap();
    let a = policy.audit.for_instance("w1").unwrap();
    assert_eq!(a.key.as_deref(), Some(Path::new("/etc/airlock/audit.key")));
    assert_eq!(a.anchor, policy.audit.anchor);
    assert_eq!(a.path.parent().unwrap().file_name().unwrap(), "w1");

    for bad in [
        "",
        ".hidden",
        "a/b",
        "..",
        "a b",
        "é",
        &"x".repeat(65),
        "a\nb",
    ] {
        let e = policy.audit.for_instance(bad).unwrap_err();
        assert!(e.contains("is not 1 to 64 letters"), "{bad:?}: {e}");
    }
    assert!(policy.audit.for_instance(&"x".repeat(64)).is_ok());
}

#[test]
fn approvals_have_a_log_no_instance_can_take() {
    let policy = Policy::parse(
        "airlock.toml",
        "[audit]\npath = \"logs/audit.jsonl\"\nanchor_dir = \"/worm\"\n",
        Path::new("/srv"),
    )
    .unwrap();
    let approvals = policy.audit.for_approvals();
    assert_eq!(approvals.path, Path::new("/srv/logs/approvals/audit.jsonl"));
    assert_eq!(
        approvals.checkpoints,
        Path::new("/srv/logs/approvals/audit.checkpoints")
    );
    assert_eq!(
        approvals.anchor,
        Some(Anchor::Dir("/worm/approvals".into()))
    );
    for reserved in ["approvals", "Approvals", "APPROVALS"] {
        let e = policy.audit.for_instance(reserved).unwrap_err();
        assert!(e.contains("reserved for the log of approvals"), "{e}");
    }
    // Any other spelling is an instance of its own, not the approvals log.
    let other = policy.audit.for_instance("approvals2").unwrap();
    assert_ne!(other.path, approvals.path);
}

#[test]
fn publishers_trusted_by_identity_need_a_root_and_a_real_subject() {
    let id = |subject: &str| {
        format!(
            "[publishers.acme]\nsigstore = [{{ issuer = \"https://token.actions.githubusercontent.com\", \
             subject = \"{subject}\" }}]\nmin_release_age = \"3d\"\n"
        )
    };
    let root = "[trust]\ntrusted_root = \"root/trusted_root.json\"\nmin_release_age = \"7d\"\n";
    let good = format!("{}{root}", id("https://github.com/acme/x/*"));
    let p = Policy::parse("airlock.toml", &good, Path::new("/srv")).unwrap();
    let acme = &p.publishers["acme"];
    assert!(acme.keys.is_empty());
    assert_eq!(acme.sigstore[0].subject, "https://github.com/acme/x/*");
    assert_eq!(
        p.trust.trusted_root.as_deref(),
        Some(Path::new("/srv/root/trusted_root.json"))
    );
    assert_eq!(
        p.min_release_age("acme"),
        Some(Duration::from_secs(3 * 86_400))
    );
    assert_eq!(
        p.min_release_age("other"),
        Some(Duration::from_secs(7 * 86_400))
    );

    for (text, field, message) in [
        (
            id("https://github.com/acme/x/*"),
            "publishers.acme.sigstore",
            "set trusted_root",
        ),
        (
            format!("{}{root}", id("*")),
            "publishers.acme.sigstore[0].subject",
            "trusts anyone",
        ),
        (
            format!("{}{root}", id("")),
            "publishers.acme.sigstore[0].subject",
            "1 to 1024",
        ),
        (
            format!("{}{root}", id("a\\u0007b")),
            "publishers.acme.sigstore[0].subject",
            "control",
        ),
        (
            "[publishers.acme]\n".to_owned(),
            "publishers.acme.keys",
            "or a sigstore identity",
        ),
        (
            format!("{root}[publishers.acme]\nsigstore = [{{ issuer = \"x\" }}]\n"),
            "publishers.acme.sigstore",
            "missing field `subject`",
        ),
        (
            "[trust]\nmin_release_age = \"soon\"\n".to_owned(),
            "trust.min_release_age",
            "soon",
        ),
    ] {
        let e = Policy::parse("airlock.toml", &text, Path::new(".")).unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.contains(field) && shown.contains(message),
            "{text}\n=> {shown}"
        );
    }
}

#[test]
fn an_action_from_a_registry_is_pinned_and_kept_in_the_store() {
    let hex = "ab".repeat(32);
    let text = format!(
        "[actions.x]\nsource = \"oci://registry.example.com/acme/x@sha256:{hex}\"\n\n\
         [trust]\nstore = \"/var/lib/airlock\"\n"
    );
    let p = Policy::parse("airlock.toml", &text, Path::new("/srv")).unwrap();
    assert_eq!(
        p.component_path("x").unwrap(),
        Path::new(&format!("/var/lib/airlock/sha256-{hex}.wasm"))
    );
    let default = text.replace("[trust]\nstore = \"/var/lib/airlock\"\n", "");
    let p = Policy::parse("airlock.toml", &default, Path::new("/srv")).unwrap();
    assert_eq!(
        p.component_path("x").unwrap(),
        Path::new(&format!("/srv/.airlock/store/sha256-{hex}.wasm"))
    );
    for (source, message) in [
        (
            "oci://registry.example.com/acme/x:1.0.0",
            "not a pinned OCI reference",
        ),
        (
            "https://registry.example.com/acme/x@sha256:00",
            "not a pinned OCI reference",
        ),
        (
            "oci://registry.example.com/acme/x@sha256:AB",
            "not a pinned OCI reference",
        ),
    ] {
        let text = format!("[actions.x]\nsource = \"{source}\"\n");
        let e = Policy::parse("airlock.toml", &text, Path::new(".")).unwrap_err();
        assert_eq!(e.path, "actions.x.source", "{source}");
        assert!(e.message.contains(message), "{source}: {e}");
    }
    let both = format!(
        "{}path = \"x.wasm\"\n",
        text.lines().take(2).collect::<Vec<_>>().join("\n") + "\n"
    );
    let e = Policy::parse("airlock.toml", &both, Path::new(".")).unwrap_err();
    assert!(e.message.contains("a path or a source, not both"), "{e}");
}
