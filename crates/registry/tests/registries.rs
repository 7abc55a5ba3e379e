//! Lookups against real `docker-registry` processes: anonymous, basic auth over TLS with a
//! private CA, and token auth; Docker and OCI media types; caches, pull policies, one shared
//! fetch; the no-fetch path through the compiler; and every failure the issue lists.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use support::*;
use testwerk_registry::{
    Environment, HostSettings, ImageConfig, LookupError, LookupRequest, Origin, Platform,
    PullPolicy, PullSecret, RegistryClient, RegistrySettings, SqliteCache, compile_error,
};

/// No ambient credentials of any kind: the tests' own environment never leaks in.
fn settings() -> RegistrySettings {
    RegistrySettings {
        environment: Environment::empty().with("AWS_EC2_METADATA_DISABLED", "true"),
        cloud_credentials: false,
        ..Default::default()
    }
}

fn plain(registry: &Registry) -> RegistrySettings {
    let mut s = settings();
    s.hosts.insert(
        registry.host.clone(),
        HostSettings {
            plain_http: true,
            ..Default::default()
        },
    );
    s
}

fn client(s: RegistrySettings) -> RegistryClient {
    RegistryClient::new(s).expect("client")
}

fn config_of(c: &RegistryClient, image: &str) -> ImageConfig {
    match c.inspect(image) {
        Ok(l) => l.info.config.clone(),
        Err(e) => panic!("{image}: {e}"),
    }
}

fn error_of(c: &RegistryClient, request: &LookupRequest<'_>) -> LookupError {
    match c.lookup(request) {
        Ok(l) => panic!("{} should fail, got {:?}", request.image, l.info),
        Err(e) => e,
    }
}

fn basic_secret(name: &str, host: &str, user: &str, password: &str) -> PullSecret {
    let json =
        serde_json::json!({"auths": {host: {"auth": B64.encode(format!("{user}:{password}"))}}});
    let mut data = BTreeMap::new();
    data.insert(
        ".dockerconfigjson".to_owned(),
        json.to_string().into_bytes(),
    );
    PullSecret::from_secret(name, Some("kubernetes.io/dockerconfigjson"), &data).unwrap()
}

#[test]
fn anonymous_registry_docker_and_oci_images() {
    let Some(registry) = Registry::start(Auth::Anonymous, None) else {
        return;
    };
    let push = Pusher::new(&registry, None, None);
    let image = TestImage::default();
    push.image("team/docker", "1.0", &image, Media::Docker);
    push.image("team/oci", "1.0", &image, Media::Oci);
    let c = client(plain(&registry));
    for repo in ["team/docker", "team/oci"] {
        let found = c.inspect(&format!("{}/{repo}:1.0", registry.host)).unwrap();
        let cfg = &found.info.config;
        assert_eq!(cfg.entrypoint, ["/usr/bin/app"], "{repo}");
        assert_eq!(cfg.cmd, ["--serve"]);
        assert_eq!(cfg.working_dir.as_deref(), Some("/srv"));
        assert_eq!(cfg.env, ["PATH=/usr/bin:/bin"]);
        let ids = cfg.user_ids().unwrap().unwrap();
        assert_eq!((ids.uid, ids.gid), (1000, Some(3000)));
        assert_eq!(found.origin, Origin::Registry);
        assert_eq!(found.info.digest, found.info.manifest_digest);
        let expected = if repo.ends_with("oci") {
            Media::Oci
        } else {
            Media::Docker
        };
        assert_eq!(found.info.media_type, expected.manifest());
        let meta = cfg.to_plan_metadata();
        assert_eq!(meta.group(), 3000);
    }
    // By digest, with and without a tag beside it.
    let digest = c
        .inspect(&format!("{}/team/oci:1.0", registry.host))
        .unwrap()
        .info
        .digest
        .clone();
    for r in [
        format!("{}/team/oci@{digest}", registry.host),
        format!("{}/team/oci:ignored@{digest}", registry.host),
    ] {
        assert_eq!(config_of(&c, &r).cmd, ["--serve"]);
    }
}

#[test]
fn indexes_resolve_to_the_target_platform() {
    let Some(registry) = Registry::start(Auth::Anonymous, None) else {
        return;
    };
    let push = Pusher::new(&registry, None, None);
    let variant = |arch: &'static str, cmd: &'static str| TestImage {
        architecture: arch,
        cmd: vec![cmd],
        ..Default::default()
    };
    let images = [
        (variant("amd64", "amd64"), None),
        (variant("arm64", "arm64"), Some("v8")),
        (variant("arm", "armv7"), Some("v7")),
    ];
    push.index("multi/docker", "1", &images, Media::Docker);
    push.index("multi/oci", "1", &images, Media::Oci);
    for repo in ["multi/docker", "multi/oci"] {
        let image = format!("{}/{repo}:1", registry.host);
        for (platform, cmd) in [
            ("linux/amd64", "amd64"),
            ("linux/arm64", "arm64"),
            ("linux/arm/v7", "armv7"),
        ] {
            let mut s = plain(&registry);
            s.platform = Platform::parse(platform).unwrap();
            let found = client(s).inspect(&image).unwrap();
            assert_eq!(found.info.config.cmd, [cmd], "{repo} for {platform}");
            assert_ne!(found.info.digest, found.info.manifest_digest);
            assert_eq!(found.info.platform.to_string(), platform);
        }
        // The platform can also be chosen per lookup.
        let arm = Platform::parse("linux/arm64").unwrap();
        let c = client(plain(&registry));
        let found = c
            .lookup(&LookupRequest::new(&image).platform(&arm))
            .unwrap();
        assert_eq!(found.info.config.cmd, ["arm64"]);
        let s390x = Platform::parse("linux/s390x").unwrap();
        let e = error_of(&c, &LookupRequest::new(&image).platform(&s390x));
        let text = e.to_string();
        assert!(matches!(e, LookupError::NoPlatform { .. }), "{text}");
        assert!(
            text.contains("linux/s390x")
                && text.contains("linux/arm64/v8")
                && !text.contains("unknown"),
            "{text}"
        );
    }
}

#[test]
fn basic_auth_over_tls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pki) = Pki::new(dir.path()) else {
        return;
    };
    let users = vec![("alice".to_owned(), "wonderland".to_owned())];
    let Some(registry) = Registry::start(Auth::Basic(users), Some(&pki)) else {
        return;
    };
    let push = Pusher::new(
        &registry,
        Some(&pki),
        Some(format!("Basic {}", B64.encode("alice:wonderland"))),
    );
    push.image("private/app", "2", &TestImage::default(), Media::Oci);
    let image = format!("{}/private/app:2", registry.host);
    let with_ca = || {
        let mut s = settings();
        s.hosts.insert(
            registry.host.clone(),
            HostSettings {
                ca_bundle: Some(pki.ca_cert.clone()),
                ..Default::default()
            },
        );
        s
    };

    // Without the CA: a TLS error that says what to configure.
    let e = client(settings()).inspect(&image).unwrap_err();
    let text = compile_error(&e);
    assert!(matches!(e, LookupError::Unreachable { .. }), "{text}");
    assert!(text.contains("TLS") && text.contains("CA bundle"), "{text}");

    // With the CA but no credentials: the registry's refusal, and what to add.
    let e = client(with_ca()).inspect(&image).unwrap_err();
    let text = compile_error(&e);
    assert!(matches!(e, LookupError::Refused { .. }), "{text}");
    assert!(
        text.contains("401 Unauthorized") && text.contains("imagePullSecret"),
        "{text}"
    );

    // A Docker config file (a Kubernetes Secret manifest works the same way).
    let docker_config = serde_json::json!({"auths": {registry.host.clone(): {"auth": B64.encode("alice:wonderland")}}});
    let file = write_file(
        dir.path(),
        "config.json",
        docker_config.to_string().as_bytes(),
    );
    let mut s = with_ca();
    s.docker_configs.push(file);
    assert_eq!(config_of(&client(s), &image).cmd, ["--serve"]);

    let secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockercfg",
        "metadata": {"name": "cfg"},
        "data": {".dockercfg": B64.encode(serde_json::json!({registry.host.clone(): {"auth": B64.encode("alice:wonderland")}}).to_string())},
    });
    let file = write_file(
        dir.path(),
        "secret.yaml",
        serde_json::to_string(&secret).unwrap().as_bytes(),
    );
    let mut s = with_ca();
    s.docker_configs.push(file);
    assert_eq!(config_of(&client(s), &image).cmd, ["--serve"]);

    // Pull secrets in order: a wrong one first, then the right one (the kubelet tries both).
    let wrong = basic_secret("wrong", &registry.host, "alice", "not-the-password");
    let right = basic_secret("right", &registry.host, "alice", "wonderland");
    let c = client(with_ca());
    let secrets = [wrong.clone(), right];
    let found = c
        .lookup(&LookupRequest::new(&image).pull_secrets(&secrets))
        .unwrap();
    assert_eq!(found.info.config.cmd, ["--serve"]);

    // Only a wrong password: a refusal naming the secret, never the password.
    let c = client(with_ca());
    let e = error_of(
        &c,
        &LookupRequest::new(&image).pull_secrets(std::slice::from_ref(&wrong)),
    );
    let text = compile_error(&e);
    assert!(
        text.contains("imagePullSecret `wrong`")
            && text.contains("refused the user name and password"),
        "{text}"
    );
    assert!(
        text.contains("401") && !text.contains("not-the-password"),
        "{text}"
    );
}

#[test]
fn token_auth_anonymous_and_with_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pki) = Pki::new(dir.path()) else {
        return;
    };
    let admin = ("admin".to_owned(), "adminpw".to_owned());
    let tokens = TokenServer::start(&pki, vec![admin.clone()], false);
    let Some(registry) = Registry::start(
        Auth::Token {
            realm: tokens.realm(),
            bundle: pki.token_cert.clone(),
        },
        None,
    ) else {
        return;
    };
    for repo in ["secure/one", "secure/two"] {
        let push = Pusher::new(
            &registry,
            None,
            Some(tokens.push_authorization(repo, "admin", "adminpw")),
        );
        push.image(repo, "1", &TestImage::default(), Media::Docker);
    }

    // Anonymous: the token service says no, and the error says so.
    let c = client(plain(&registry));
    let e = c
        .inspect(&format!("{}/secure/one:1", registry.host))
        .unwrap_err();
    let text = compile_error(&e);
    assert!(
        text.contains("refused an anonymous token") && text.contains("credentials required"),
        "{text}"
    );

    // With credentials: one token per repository, and the second repository skips the 401.
    let mut s = plain(&registry);
    let cfg = serde_json::json!({"auths": {registry.host.clone(): {"username": "admin", "password": "adminpw"}}});
    s.docker_configs
        .push(write_file(dir.path(), "c.json", cfg.to_string().as_bytes()));
    let c = client(s);
    tokens.set_mode(TokenMode::Valid);
    let before = registry.requests().len();
    assert_eq!(
        config_of(&c, &format!("{}/secure/one:1", registry.host)).cmd,
        ["--serve"]
    );
    assert_eq!(tokens.issued.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(
        config_of(&c, &format!("{}/secure/two:1", registry.host)).cmd,
        ["--serve"]
    );
    assert_eq!(tokens.issued.load(std::sync::atomic::Ordering::SeqCst), 2);
    let served: Vec<String> = registry.requests()[before..].to_vec();
    assert_eq!(
        served,
        [
            "GET /v2/secure/one/manifests/1".to_owned(), // 401: learn the realm
            "GET /v2/secure/one/manifests/1".to_owned(),
            format!(
                "GET /v2/secure/one/blobs/{}",
                c.inspect(&format!("{}/secure/one:1", registry.host))
                    .unwrap()
                    .info
                    .config_digest
            ),
            "GET /v2/secure/two/manifests/1".to_owned(),
            format!(
                "GET /v2/secure/two/blobs/{}",
                c.inspect(&format!("{}/secure/two:1", registry.host))
                    .unwrap()
                    .info
                    .config_digest
            ),
        ]
    );
}

#[test]
fn an_expired_token_is_refreshed_once_then_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pki) = Pki::new(dir.path()) else {
        return;
    };
    let tokens = TokenServer::start(&pki, vec![("admin".to_owned(), "adminpw".to_owned())], true);
    let Some(registry) = Registry::start(
        Auth::Token {
            realm: tokens.realm(),
            bundle: pki.token_cert.clone(),
        },
        None,
    ) else {
        return;
    };
    let push = Pusher::new(
        &registry,
        None,
        Some(tokens.push_authorization("exp/app", "admin", "adminpw")),
    );
    push.image("exp/app", "1", &TestImage::default(), Media::Oci);
    let image = format!("{}/exp/app:1", registry.host);
    let issued = || tokens.issued.load(std::sync::atomic::Ordering::SeqCst);

    tokens.set_mode(TokenMode::FirstExpired);
    let c = client(plain(&registry));
    assert_eq!(config_of(&c, &image).cmd, ["--serve"]);
    assert_eq!(
        issued(),
        2,
        "one token, refused as expired, then one refresh"
    );

    tokens.set_mode(TokenMode::AlwaysExpired);
    let c = client(plain(&registry));
    let e = c.inspect(&image).unwrap_err();
    let text = compile_error(&e);
    assert_eq!(issued(), 2, "refreshed once, not more: {text}");
    assert!(matches!(e, LookupError::Refused { .. }), "{text}");
    assert!(
        text.contains("refused the token")
            && text.contains("refreshed once")
            && text.contains("401"),
        "{text}"
    );
    assert!(text.contains("give the step a `command`"), "{text}");
}

#[test]
fn unreachable_registry_unknown_tag_and_unsupported_media_type() {
    // Unreachable: a port nobody listens on.
    let host = format!("127.0.0.1:{}", free_port());
    let mut s = settings();
    s.hosts.insert(
        host.clone(),
        HostSettings {
            plain_http: true,
            ..Default::default()
        },
    );
    s.timeouts.connect = Duration::from_secs(2);
    let e = client(s).inspect(&format!("{host}/app:1")).unwrap_err();
    let text = compile_error(&e);
    assert!(matches!(e, LookupError::Unreachable { .. }), "{text}");
    assert!(
        text.contains(&host) && text.contains("connection refused") && text.contains("--images"),
        "{text}"
    );

    let Some(registry) = Registry::start(Auth::Anonymous, None) else {
        return;
    };
    let push = Pusher::new(&registry, None, None);
    push.image("app", "1", &TestImage::default(), Media::Oci);
    let c = client(plain(&registry));

    let e = c.inspect(&format!("{}/app:2", registry.host)).unwrap_err();
    let text = compile_error(&e);
    assert!(matches!(e, LookupError::NotFound { .. }), "{text}");
    assert!(
        text.contains("manifest app:2") && text.contains("404 Not Found: MANIFEST_UNKNOWN"),
        "{text}"
    );

    // A Helm chart is an OCI artifact, not an image.
    let config = br#"{"name":"chart","version":"1.0.0"}"#;
    let config_digest = push.blob("chart", config);
    let layer_digest = push.blob("chart", b"chart tarball");
    let manifest = push.manifest_body(
        Media::Oci,
        "application/vnd.cncf.helm.config.v1+json",
        &config_digest,
        config.len(),
        &layer_digest,
        13,
    );
    push.manifest("chart", "1.0.0", Media::Oci.manifest(), &manifest);
    let e = c
        .inspect(&format!("{}/chart:1.0.0", registry.host))
        .unwrap_err();
    let text = compile_error(&e);
    assert!(matches!(e, LookupError::Unsupported { .. }), "{text}");
    assert!(
        text.contains("application/vnd.cncf.helm.config.v1+json") && text.contains("artifact"),
        "{text}"
    );
}

#[test]
fn a_user_name_is_reported_not_guessed() {
    let Some(registry) = Registry::start(Auth::Anonymous, None) else {
        return;
    };
    let push = Pusher::new(&registry, None, None);
    push.image(
        "db",
        "16",
        &TestImage {
            user: "postgres",
            ..Default::default()
        },
        Media::Docker,
    );
    let cfg = config_of(
        &client(plain(&registry)),
        &format!("{}/db:16", registry.host),
    );
    assert_eq!(cfg.user.as_ref().map(|u| u.0.as_str()), Some("postgres"));
    let e = cfg.user_ids().unwrap_err().to_string();
    assert!(
        e.contains("`postgres` is a name") && e.contains("/etc/passwd") && e.contains("runAsUser"),
        "{e}"
    );
    // The compiler's group for a named user is upstream's: 0.
    assert_eq!(cfg.to_plan_metadata().group(), 0);
}

#[test]
fn caches_and_pull_policies() {
    let Some(registry) = Registry::start(Auth::Anonymous, None) else {
        return;
    };
    let push = Pusher::new(&registry, None, None);
    push.image("cached", "1", &TestImage::default(), Media::Oci);
    let image = format!("{}/cached:1", registry.host);
    let manifests = || registry.count("GET /v2/cached/manifests/");
    let heads = || registry.count("HEAD /v2/cached/manifests/");
    let blobs = || registry.count("GET /v2/cached/blobs/");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("images.db");
    let durable = |ttl: Duration| {
        let mut s = plain(&registry);
        s.durable = Some(Arc::new(SqliteCache::open(&db).unwrap()));
        s.tag_ttl = ttl;
        client(s)
    };

    let c = durable(Duration::from_secs(600));
    let request = LookupRequest::new(&image).pull_policy(PullPolicy::IfNotPresent);
    assert_eq!(c.lookup(&request).unwrap().origin, Origin::Registry);
    assert_eq!((manifests(), blobs()), (1, 1));
    // Warm: memory, no request.
    assert_eq!(c.lookup(&request).unwrap().origin, Origin::Memory);
    assert_eq!((manifests(), blobs(), heads()), (1, 1, 0));
    // Always: the tag is asked again (a HEAD), the digest's metadata is not.
    let always = LookupRequest::new(&image).pull_policy(PullPolicy::Always);
    assert_eq!(c.lookup(&always).unwrap().info.config.cmd, ["--serve"]);
    assert_eq!((manifests(), blobs(), heads()), (1, 1, 1));
    // `:latest` defaults to Always, other tags to IfNotPresent.
    assert_eq!(c.inspect(&image).unwrap().origin, Origin::Memory);

    // A new process: the durable cache answers, even for Never.
    let c2 = durable(Duration::from_secs(600));
    let never = LookupRequest::new(&image).pull_policy(PullPolicy::Never);
    assert_eq!(c2.lookup(&never).unwrap().origin, Origin::Durable);
    assert_eq!(c2.lookup(&never).unwrap().origin, Origin::Memory);
    assert_eq!((manifests(), blobs(), heads()), (1, 1, 1));

    // Never, for an image nobody looked up: no request, and an error that says why.
    let before = registry.requests().len();
    let e = error_of(
        &c2,
        &LookupRequest::new(&format!("{}/other:1", registry.host)).pull_policy(PullPolicy::Never),
    );
    assert!(matches!(e, LookupError::NotCached { .. }), "{e}");
    assert!(compile_error(&e).contains("imagePullPolicy is Never"));
    assert_eq!(registry.requests().len(), before);

    // An expired tag is revalidated with a HEAD; a moved tag is fetched.
    let c3 = durable(Duration::ZERO);
    assert_eq!(c3.lookup(&request).unwrap().origin, Origin::Registry);
    assert_eq!((manifests(), blobs(), heads()), (1, 1, 2));
    push.image(
        "cached",
        "1",
        &TestImage {
            cmd: vec!["--moved"],
            ..Default::default()
        },
        Media::Oci,
    );
    assert_eq!(c3.lookup(&request).unwrap().info.config.cmd, ["--moved"]);
    assert_eq!((manifests(), blobs(), heads()), (2, 2, 3));
}

/// Issue 9, item 6: one lookup with credentials must never let a lookup without them, with a
/// wrong password, under another registry name or from another repository read the image
/// from the caches (memory or SQLite); the same credentials are answered warm, with no
/// request.
#[test]
fn cached_metadata_answers_only_the_credentials_that_fetched_it() {
    let users = vec![("alice".to_owned(), "wonderland".to_owned())];
    let Some(registry) = Registry::start(Auth::Basic(users), None) else {
        return;
    };
    let push = Pusher::new(
        &registry,
        None,
        Some(format!("Basic {}", B64.encode("alice:wonderland"))),
    );
    let digest = push.image("private/app", "1", &TestImage::default(), Media::Oci);
    let port = registry.host.rsplit(':').next().unwrap().to_owned();
    // The same registry under a second name: only the name differs.
    let alias = format!("localhost:{port}");
    let image = format!("{}/private/app:1", registry.host);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("images.db");
    let durable = || {
        let mut s = plain(&registry);
        s.hosts.insert(
            alias.clone(),
            HostSettings {
                plain_http: true,
                ..Default::default()
            },
        );
        s.durable = Some(Arc::new(SqliteCache::open(&db).unwrap()));
        client(s)
    };
    let right = [basic_secret("right", &registry.host, "alice", "wonderland")];
    let wrong = [basic_secret("wrong", &registry.host, "alice", "guessed")];
    let refused = |e: LookupError| {
        let text = compile_error(&e);
        assert!(matches!(e, LookupError::Refused { .. }), "{text}");
        assert!(text.contains("401"), "{text}");
        assert!(
            !text.contains("wonderland") && !text.contains("guessed"),
            "{text}"
        );
        text
    };
    let served = || registry.requests().len();

    let c = durable();
    let with = |secrets: &'static str| match secrets {
        "right" => LookupRequest::new(&image).pull_secrets(&right),
        "wrong" => LookupRequest::new(&image).pull_secrets(&wrong),
        _ => LookupRequest::new(&image),
    };
    assert_eq!(c.lookup(&with("right")).unwrap().origin, Origin::Registry);

    // Warm, same credentials: memory, and the registry sees nothing.
    let before = served();
    let warm = c.lookup(&with("right")).unwrap();
    assert_eq!((warm.origin, served()), (Origin::Memory, before));
    assert_eq!(warm.info.config.cmd, ["--serve"]);

    // The same process, without credentials or with a wrong password: the registry's refusal.
    let text = refused(c.lookup(&with("none")).unwrap_err());
    assert!(text.contains("none matched"), "{text}");
    let text = refused(c.lookup(&with("wrong")).unwrap_err());
    assert!(text.contains("imagePullSecret `wrong`"), "{text}");
    assert!(served() > before, "the refusals came from the registry");

    // By digest: the credential's own repository answers from memory...
    let by_digest = format!("{}/private/app@{digest}", registry.host);
    let before = served();
    let found = c
        .lookup(&LookupRequest::new(&by_digest).pull_secrets(&right))
        .unwrap();
    assert_eq!((found.origin, served()), (Origin::Memory, before));
    // ...but not without the credential,
    refused(c.lookup(&LookupRequest::new(&by_digest)).unwrap_err());
    // nor under another registry name (whose credentials, here none, the registry judges),
    let aliased = format!("{alias}/private/app@{digest}");
    let before = served();
    let text = refused(
        c.lookup(&LookupRequest::new(&aliased).pull_secrets(&right))
            .unwrap_err(),
    );
    assert!(text.contains(&alias), "{text}");
    assert!(served() > before, "asked the registry, not the cache");
    // nor for another repository of the same registry, which does not hold the digest.
    let elsewhere = format!("{}/other/app@{digest}", registry.host);
    let e = c
        .lookup(&LookupRequest::new(&elsewhere).pull_secrets(&right))
        .unwrap_err();
    assert!(matches!(e, LookupError::NotFound { .. }), "{e}");

    // A new process on the same SQLite file: the same rules.
    let c2 = durable();
    for (secrets, expect) in [
        ("none", None),
        ("wrong", None),
        ("right", Some(Origin::Durable)),
    ] {
        let result = c2.lookup(&with(secrets).pull_policy(PullPolicy::Never));
        match expect {
            Some(origin) => assert_eq!(result.unwrap().origin, origin, "{secrets}"),
            None => assert!(
                matches!(result, Err(LookupError::NotCached { .. })),
                "{secrets}: {result:?}"
            ),
        }
    }
    let c3 = durable();
    refused(c3.lookup(&with("none")).unwrap_err());
    refused(c3.lookup(&with("wrong")).unwrap_err());
    refused(c3.lookup(&LookupRequest::new(&by_digest)).unwrap_err());

    // The file names credentials only by a salted fingerprint.
    let bytes = std::fs::read(&db).unwrap();
    let wal = std::fs::read(dir.path().join("images.db-wal")).unwrap_or_default();
    for secret in ["wonderland", "guessed", &B64.encode("alice:wonderland")] {
        let needle = secret.as_bytes();
        for file in [&bytes, &wal] {
            assert!(!file.windows(needle.len()).any(|w| w == needle), "{secret}");
        }
    }
}

/// What a registry gives anyone answers everyone: a lookup that brought credentials the
/// registry never asked for stores its answer as anonymous.
#[test]
fn public_metadata_answers_every_credential() {
    let Some(registry) = Registry::start(Auth::Anonymous, None) else {
        return;
    };
    let push = Pusher::new(&registry, None, None);
    push.image("public/app", "1", &TestImage::default(), Media::Docker);
    let image = format!("{}/public/app:1", registry.host);
    let c = client(plain(&registry));
    let secret = [basic_secret("s", &registry.host, "bob", "builder")];
    let request = LookupRequest::new(&image).pull_secrets(&secret);
    assert_eq!(c.lookup(&request).unwrap().origin, Origin::Registry);
    let before = registry.requests().len();
    assert_eq!(c.inspect(&image).unwrap().origin, Origin::Memory);
    assert_eq!(c.lookup(&request).unwrap().origin, Origin::Memory);
    assert_eq!(registry.requests().len(), before);
}

#[test]
fn concurrent_lookups_share_one_fetch() {
    let Some(registry) = Registry::start(Auth::Anonymous, None) else {
        return;
    };
    let push = Pusher::new(&registry, None, None);
    push.image("shared", "1", &TestImage::default(), Media::Docker);
    let c = client(plain(&registry));
    let image = format!("{}/shared:1", registry.host);
    let barrier = Arc::new(std::sync::Barrier::new(50));
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let (c, image, barrier) = (c.clone(), image.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                c.inspect(&image).map(|l| l.info.config.cmd.clone())
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), ["--serve"]);
    }
    assert_eq!(registry.count("GET /v2/shared/manifests/"), 1);
    assert_eq!(registry.count("GET /v2/shared/blobs/"), 1);
}

// ---------------------------------------------------------------------------------------------
// Through the compiler.

fn compile(
    yaml: &str,
    source: &dyn testwerk_plan::ImageSource,
) -> Result<testwerk_plan::Plan, String> {
    let docs = testwerk_spec::load_str("wf.yaml", yaml).map_err(|d| format!("{d:?}"))?;
    let doc = docs
        .into_iter()
        .find_map(|d| match d {
            testwerk_spec::AnyDocument::Workflow(w) => Some(w),
            _ => None,
        })
        .ok_or("no workflow")?;
    let opts = testwerk_resolve::ResolveOptions {
        secret_name: "wf-1-config".to_owned(),
        ..Default::default()
    };
    let resolved = testwerk_resolve::resolve(&doc, &testwerk_resolve::TemplateSet::new(), &opts)
        .map_err(|d| format!("{d:?}"))?;
    let plan_opts = testwerk_plan::PlanOptions {
        resource_id: "wf-1".to_owned(),
        root_id: "wf-1".to_owned(),
        namespace: "default".to_owned(),
        images: testwerk_plan::OwnImages {
            init: "testwerk/init:1".to_owned(),
            toolkit: "testwerk/toolkit:1".to_owned(),
            delivery: Default::default(),
        },
        image_source: source,
    };
    testwerk_plan::compile(&resolved.workflow, &plan_opts).map_err(|e| e.to_string())
}

fn workflow(image: &str, with_command: bool) -> String {
    let command = if with_command {
        "\n      command: [/bin/run]\n      workingDir: /work"
    } else {
        ""
    };
    format!(
        "apiVersion: testworkflows.testkube.io/v1
kind: TestWorkflow
metadata: {{name: wf}}
spec:
  pod:
    securityContext: {{runAsGroup: 1000, fsGroup: 1000}}
  steps:
  - name: first
    run:
      image: {image}{command}
  - name: second
    run:
      image: {image}
      command: [/bin/other]
"
    )
}

#[test]
fn the_no_fetch_path_makes_no_request() {
    let Some(registry) = Registry::start(Auth::Anonymous, None) else {
        return;
    };
    let push = Pusher::new(&registry, None, None);
    push.image("nofetch", "1", &TestImage::default(), Media::Oci);
    let image = format!("{}/nofetch:1", registry.host);
    let c = client(plain(&registry));

    let before = registry.requests();
    compile(&workflow(&image, true), &c).unwrap();
    assert_eq!(
        registry.requests(),
        before,
        "every step gives what the plan needs: no request at all"
    );

    // A step without a command: its image is looked up, once.
    let plan = compile(&workflow(&image, false), &c).unwrap();
    assert_eq!(registry.count("GET /v2/nofetch/manifests/"), 1);
    assert_eq!(registry.count("GET /v2/nofetch/blobs/"), 1);
    let debug = format!("{plan:?}");
    assert!(
        debug.contains("/usr/bin/app") && debug.contains("--serve"),
        "the image's entrypoint and cmd are in the plan"
    );

    // The same with the registry gone: the compile error names step, image, answer, way out.
    drop(registry);
    let c = client(plain_for(&image));
    let e = compile(&workflow(&image, false), &c).unwrap_err();
    assert!(e.contains("inspecting image") && e.contains(&image), "{e}");
    assert!(
        e.contains("cannot be reached") && e.contains("connection refused"),
        "{e}"
    );
    assert!(
        e.contains("give the step a `command`") && e.contains("--images"),
        "{e}"
    );
    assert!(
        e.contains("steps[0]") || e.contains("first"),
        "names the step: {e}"
    );
}

fn plain_for(image: &str) -> RegistrySettings {
    let host = image.split('/').next().unwrap().to_owned();
    let mut s = settings();
    s.hosts.insert(
        host,
        HostSettings {
            plain_http: true,
            ..Default::default()
        },
    );
    s
}
