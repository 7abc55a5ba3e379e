//! AWS Signature Version 4, for the one call we make (`ecr:GetAuthorizationToken`). Small and
//! checked against AWS's published example, instead of the AWS SDK's many crates.

use ring::{digest, hmac};

use super::aws::AwsCredentials;
use crate::time;

/// The parts of a request that are signed.
pub(crate) struct Signable<'a> {
    pub method: &'a str,
    /// Already URI-encoded, e.g. `/`.
    pub path: &'a str,
    /// Canonical: sorted, encoded `k=v` pairs joined by `&`.
    pub query: &'a str,
    /// Must include `host`.
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

/// The headers to add: `X-Amz-Date`, `X-Amz-Security-Token` (session credentials) and
/// `Authorization`.
pub(crate) fn sign(
    request: Signable<'_>,
    credentials: &AwsCredentials,
    region: &str,
    service: &str,
    unix_time: u64,
) -> Vec<(&'static str, String)> {
    let amz_date = time::amz_datetime(unix_time);
    let date = &amz_date[..8];
    let mut added = vec![("X-Amz-Date", amz_date.clone())];
    if let Some(token) = &credentials.session_token {
        added.push(("X-Amz-Security-Token", token.clone()));
    }

    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .chain(
            added
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.clone()))
                .collect::<Vec<_>>()
                .iter(),
        )
        .map(|(n, v)| (n.to_ascii_lowercase(), collapse_spaces(v)))
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        request.method,
        request.path,
        request.query,
        hex(digest::digest(&digest::SHA256, request.body).as_ref())
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(digest::digest(&digest::SHA256, canonical_request.as_bytes()).as_ref())
    );
    let key = signing_key(&credentials.secret_access_key, date, region, service);
    let signature = hex(hmac::sign(&key, string_to_sign.as_bytes()).as_ref());
    added.push((
        "Authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key_id
        ),
    ));
    added
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Key {
    let step = |key: &[u8], data: &str| {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes());
        tag.as_ref().to_vec()
    };
    let k_date = step(format!("AWS4{secret}").as_bytes(), date);
    let k_region = step(&k_date, region);
    let k_service = step(&k_region, service);
    let k_signing = step(&k_service, "aws4_request");
    hmac::Key::new(hmac::HMAC_SHA256, &k_signing)
}

fn collapse_spaces(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's worked example ("Create a signed AWS API request", IAM `ListUsers`).
    #[test]
    fn matches_the_published_example() {
        let credentials = AwsCredentials {
            access_key_id: "AKIDEXAMPLE".to_owned(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned(),
            session_token: None,
            expires_at: None,
            source: "test",
        };
        let headers = sign(
            Signable {
                method: "GET",
                path: "/",
                query: "Action=ListUsers&Version=2010-05-08",
                headers: vec![
                    (
                        "Content-Type".to_owned(),
                        "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
                    ),
                    ("Host".to_owned(), "iam.amazonaws.com".to_owned()),
                ],
                body: b"",
            },
            &credentials,
            "us-east-1",
            "iam",
            1_440_938_160,
        );
        let auth = headers
            .iter()
            .find(|(n, _)| *n == "Authorization")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }
}
