//! Cloud credentials against local stand-ins: moto (a real AWS API emulator) answers
//! `GetAuthorizationToken` and `AssumeRoleWithWebIdentity`; the registry's htpasswd accepts the
//! `AWS:<password>` moto issues. Google tokens come from a local endpoint that verifies the
//! RS256 JWT-bearer assertion with the service account's public key, or from a local metadata
//! server. Nothing leaves 127.0.0.1: the environment handed to the client is built here, with
//! the instance metadata service disabled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::*;

use testwerk_registry::{
    CloudProvider, Environment, HostSettings, LookupError, LookupRequest, Origin, PullPolicy,
    RegistryClient, RegistrySettings, SqliteCache, compile_error,
};

/// A TLS registry with basic auth for `users`, holding `app:1`.
fn start_registry(pki: &Pki, user: &str, password: &str) -> Option<Registry> {
    let registry = Registry::start(
        Auth::Basic(vec![(user.to_owned(), password.to_owned())]),
        Some(pki),
    )?;
    let push = Pusher::new(
        &registry,
        Some(pki),
        Some(format!(
            "Basic {}",
            B64.encode(format!("{user}:{password}"))
        )),
    );
    push.image("app", "1", &TestImage::default(), Media::Oci);
    push.image(
        "tool",
        "1",
        &TestImage {
            cmd: vec!["tool"],
            ..Default::default()
        },
        Media::Docker,
    );
    Some(registry)
}

fn settings(
    pki: &Pki,
    registry: &Registry,
    provider: CloudProvider,
    env: Environment,
) -> RegistrySettings {
    let mut s = RegistrySettings {
        environment: env.with("AWS_EC2_METADATA_DISABLED", "true"),
        cloud_credentials: false,
        ..Default::default()
    };
    s.hosts.insert(
        registry.host.clone(),
        HostSettings {
            ca_bundle: Some(pki.ca_cert.clone()),
            ..Default::default()
        },
    );
    s.cloud_hosts.insert(registry.host.clone(), provider);
    s
}

fn ecr() -> CloudProvider {
    CloudProvider::Ecr {
        region: Some("us-east-1".to_owned()),
    }
}

fn cmd(c: &RegistryClient, image: &str) -> Vec<String> {
    match c.inspect(image) {
        Ok(l) => l.info.config.cmd.clone(),
        Err(e) => panic!("{image}: {e}"),
    }
}

#[test]
fn ecr_with_moto_environment_keys_and_web_identity() {
    let Some(moto) = Moto::start() else { return };
    let (user, password) = moto.ecr_password();
    assert_eq!(user, "AWS");
    let dir = tempfile::tempdir().unwrap();
    let Some(pki) = Pki::new(dir.path()) else {
        return;
    };
    let Some(registry) = start_registry(&pki, &user, &password) else {
        return;
    };
    let image = format!("{}/app:1", registry.host);

    // Environment keys sign the call; the token opens the registry.
    let env = Environment::empty()
        .with("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .with("AWS_SECRET_ACCESS_KEY", "secret-test")
        .with("AWS_ENDPOINT_URL", moto.endpoint.clone());
    let c = RegistryClient::new(settings(&pki, &registry, ecr(), env.clone())).unwrap();
    assert_eq!(cmd(&c, &image), ["--serve"]);
    // Warm: the provider's credential (kept in memory) finds the answer; no request.
    let before = registry.requests().len();
    let found = c.inspect(&image).unwrap();
    assert_eq!(
        (found.origin, registry.requests().len()),
        (Origin::Memory, before)
    );

    // The durable cache answers a new process whose provider hands out the same credential,
    // and not one without AWS credentials (issue 9, item 6).
    let db = dir.path().join("images.db");
    let cached = |env: Environment| {
        let mut s = settings(&pki, &registry, ecr(), env);
        s.durable = Some(Arc::new(SqliteCache::open(&db).unwrap()));
        RegistryClient::new(s).unwrap()
    };
    let never = LookupRequest::new(&image).pull_policy(PullPolicy::Never);
    assert_eq!(
        cached(env.clone()).inspect(&image).unwrap().origin,
        Origin::Registry
    );
    assert_eq!(cached(env).lookup(&never).unwrap().origin, Origin::Durable);
    let without = Environment::empty().with("AWS_ENDPOINT_URL", moto.endpoint.clone());
    let e = cached(without).lookup(&never).unwrap_err();
    assert!(matches!(e, LookupError::NotCached { .. }), "{e}");

    // IRSA: the projected token is exchanged at (moto's) STS for role credentials.
    let token = write_file(
        dir.path(),
        "token",
        b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6dGVzdDp0ZXN0In0.c2ln",
    );
    let env = Environment::empty()
        .with("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string())
        .with("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/testwerk")
        .with("AWS_ROLE_SESSION_NAME", "testwerk-test")
        .with("AWS_ENDPOINT_URL", moto.endpoint.clone());
    let c = RegistryClient::new(settings(&pki, &registry, ecr(), env)).unwrap();
    assert_eq!(cmd(&c, &image), ["--serve"]);
}

#[test]
fn ecr_with_pod_identity_credentials() {
    let Some(moto) = Moto::start() else { return };
    let (user, password) = moto.ecr_password();
    let dir = tempfile::tempdir().unwrap();
    let Some(pki) = Pki::new(dir.path()) else {
        return;
    };
    let Some(registry) = start_registry(&pki, &user, &password) else {
        return;
    };
    // The EKS Pod Identity agent: credentials for the bearer of the projected token.
    let agent = Stub::start(Arc::new(|_, _, headers, _| {
        if header(headers, "authorization") != Some("pod-identity-token") {
            return (401, "{}".to_owned());
        }
        (200, r#"{"AccessKeyId":"ASIAPOD","SecretAccessKey":"pod-secret","Token":"pod-session","Expiration":"2099-01-01T00:00:00Z"}"#.to_owned())
    }));
    let token = write_file(
        dir.path(),
        "eks-pod-identity-token",
        b"pod-identity-token\n",
    );
    let env = Environment::empty()
        .with(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/v1/credentials", agent.url()),
        )
        .with(
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token.display().to_string(),
        )
        .with("AWS_ENDPOINT_URL_ECR", moto.endpoint.clone());
    let c = RegistryClient::new(settings(&pki, &registry, ecr(), env)).unwrap();
    assert_eq!(cmd(&c, &format!("{}/app:1", registry.host)), ["--serve"]);
    assert_eq!(cmd(&c, &format!("{}/tool:1", registry.host)), ["tool"]);
    assert_eq!(
        agent.hits(),
        1,
        "pod credentials are cached until they expire"
    );
}

/// A stand-in ECR API that checks the SigV4 header and hands out `passwords` in turn (the
/// last one repeated), valid for 12 hours.
fn fake_ecr(passwords: Vec<&'static str>) -> Stub {
    let calls = AtomicUsize::new(0);
    Stub::start(Arc::new(move |method, _, headers, body| {
        let auth = header(headers, "authorization").unwrap_or_default();
        let signed = auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/")
            && auth.contains("/us-east-1/ecr/aws4_request")
            && auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target");
        let target = header(headers, "x-amz-target");
        if method != "POST"
            || !signed
            || target != Some("AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken")
            || body != "{}"
        {
            return (
                400,
                r#"{"__type":"InvalidSignatureException","message":"bad request"}"#.to_owned(),
            );
        }
        let n = calls.fetch_add(1, Ordering::SeqCst);
        let password = passwords[n.min(passwords.len() - 1)];
        let token = B64.encode(format!("AWS:{password}"));
        (200, serde_json::json!({"authorizationData": [{"authorizationToken": token, "expiresAt": now() + 43_200, "proxyEndpoint": "https://x"}]}).to_string())
    }))
}

#[test]
fn ecr_tokens_are_cached_and_refreshed_once_when_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pki) = Pki::new(dir.path()) else {
        return;
    };
    let Some(registry) = start_registry(&pki, "AWS", "good") else {
        return;
    };
    let env = |endpoint: String| {
        Environment::empty()
            .with("AWS_ACCESS_KEY_ID", "AKIDTEST")
            .with("AWS_SECRET_ACCESS_KEY", "secret-test")
            .with("AWS_ENDPOINT_URL_ECR", endpoint)
    };

    // A token the registry refuses (revoked, say) is replaced once.
    let api = fake_ecr(vec!["stale", "good"]);
    let c = RegistryClient::new(settings(&pki, &registry, ecr(), env(api.url()))).unwrap();
    assert_eq!(cmd(&c, &format!("{}/app:1", registry.host)), ["--serve"]);
    assert_eq!(api.hits(), 2);
    // Cached until shortly before it expires: no new call for the next image.
    assert_eq!(cmd(&c, &format!("{}/tool:1", registry.host)), ["tool"]);
    assert_eq!(api.hits(), 2);

    // Refused again after the refresh: a clear error, and no third call.
    let api = fake_ecr(vec!["stale"]);
    let c = RegistryClient::new(settings(&pki, &registry, ecr(), env(api.url()))).unwrap();
    let e = c.inspect(&format!("{}/app:1", registry.host)).unwrap_err();
    let text = compile_error(&e);
    assert_eq!(api.hits(), 2, "{text}");
    assert!(matches!(e, LookupError::Refused { .. }), "{text}");
    assert!(
        text.contains("AWS ECR")
            && text.contains("refused the user name and password")
            && !text.contains("stale"),
        "{text}"
    );
}

#[test]
fn ecr_without_any_aws_credentials_says_what_was_tried() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pki) = Pki::new(dir.path()) else {
        return;
    };
    let Some(registry) = start_registry(&pki, "AWS", "good") else {
        return;
    };
    let c = RegistryClient::new(settings(&pki, &registry, ecr(), Environment::empty())).unwrap();
    let e = c.inspect(&format!("{}/app:1", registry.host)).unwrap_err();
    let text = compile_error(&e);
    assert!(
        text.contains("no AWS credentials")
            && text.contains("web identity")
            && text.contains("401"),
        "{text}"
    );
}

#[test]
fn google_service_account_key_and_metadata_server() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pki) = Pki::new(dir.path()) else {
        return;
    };
    let (private_pem, public_der) = pki.rsa_key("sa");
    let email = "builder@project.iam.gserviceaccount.com";

    // The key's token_uri: verifies the assertion like Google's endpoint does.
    let token_port = Arc::new(std::sync::OnceLock::<String>::new());
    let uri = token_port.clone();
    let endpoint = Stub::start(Arc::new(move |method, url, _, body| {
        let grant = query_param(&format!("?{body}"), "grant_type");
        let assertion = query_param(&format!("?{body}"), "assertion").unwrap_or_default();
        let parts: Vec<&str> = assertion.split('.').collect();
        if method != "POST"
            || !url.starts_with("/token")
            || grant.as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
            || parts.len() != 3
        {
            return (400, r#"{"error":"invalid_request"}"#.to_owned());
        }
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &public_der,
        );
        let signature = B64URL.decode(parts[2]).unwrap_or_default();
        if key
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .is_err()
        {
            return (
                400,
                r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#
                    .to_owned(),
            );
        }
        let header: serde_json::Value =
            serde_json::from_slice(&B64URL.decode(parts[0]).unwrap()).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&B64URL.decode(parts[1]).unwrap()).unwrap();
        let ok = header["alg"] == "RS256"
            && header["kid"] == "key-1"
            && claims["iss"] == email
            && claims["aud"].as_str() == uri.get().map(String::as_str)
            && claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
            && claims["exp"].as_u64() > claims["iat"].as_u64();
        if !ok {
            return (
                400,
                format!(r#"{{"error":"invalid_grant","error_description":"bad claims {claims}"}}"#),
            );
        }
        (
            200,
            r#"{"access_token":"ya29.service-account","expires_in":3599,"token_type":"Bearer"}"#
                .to_owned(),
        )
    }));
    let token_uri = format!("{}/token", endpoint.url());
    token_port.set(token_uri.clone()).unwrap();
    let key_file = serde_json::json!({
        "type": "service_account", "project_id": "project", "private_key_id": "key-1",
        "private_key": private_pem, "client_email": email, "client_id": "1",
        "token_uri": token_uri,
    });
    let key_path = write_file(dir.path(), "sa.json", key_file.to_string().as_bytes());

    let Some(registry) = start_registry(&pki, "oauth2accesstoken", "ya29.service-account") else {
        return;
    };
    let env = Environment::empty().with(
        "GOOGLE_APPLICATION_CREDENTIALS",
        key_path.display().to_string(),
    );
    let c = RegistryClient::new(settings(&pki, &registry, CloudProvider::Google, env)).unwrap();
    assert_eq!(cmd(&c, &format!("{}/app:1", registry.host)), ["--serve"]);
    assert_eq!(cmd(&c, &format!("{}/tool:1", registry.host)), ["tool"]);
    assert_eq!(endpoint.hits(), 1, "the access token is cached");

    // Workload identity: the metadata server, which insists on its header.
    let metadata = Stub::start(Arc::new(|_, url, headers, _| {
        if header(headers, "metadata-flavor") != Some("Google")
            || url != "/computeMetadata/v1/instance/service-accounts/default/token"
        {
            return (403, "{}".to_owned());
        }
        (
            200,
            r#"{"access_token":"ya29.workload","expires_in":3599,"token_type":"Bearer"}"#
                .to_owned(),
        )
    }));
    let Some(registry) = start_registry(&pki, "oauth2accesstoken", "ya29.workload") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let env = Environment::empty()
        .with("GCE_METADATA_HOST", format!("127.0.0.1:{}", metadata.port))
        .with("HOME", home.path().display().to_string());
    let c = RegistryClient::new(settings(&pki, &registry, CloudProvider::Google, env)).unwrap();
    assert_eq!(cmd(&c, &format!("{}/app:1", registry.host)), ["--serve"]);
    assert_eq!(metadata.hits(), 1);

    // A key the endpoint rejects: its answer is in the error, the key is not.
    let (other_pem, _) = pki.rsa_key("other");
    let mut bad = key_file.clone();
    bad["private_key"] = serde_json::Value::String(other_pem.clone());
    let bad_path = write_file(dir.path(), "bad.json", bad.to_string().as_bytes());
    let env = Environment::empty().with(
        "GOOGLE_APPLICATION_CREDENTIALS",
        bad_path.display().to_string(),
    );
    let c = RegistryClient::new(settings(&pki, &registry, CloudProvider::Google, env)).unwrap();
    let text = compile_error(&c.inspect(&format!("{}/app:1", registry.host)).unwrap_err());
    assert!(
        text.contains("Invalid JWT Signature") && !text.contains("PRIVATE KEY"),
        "{text}"
    );
}
