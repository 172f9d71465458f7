//! Each dialect's signatures, written from `shared/DIALECTS.md` and independently of
//! paybridge's own signer: request signing the runner does for the client, and webhook
//! verification the receiver does for the merchant.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha512};

use crate::credentials::Credentials;

fn hmac256(key: &[u8], message: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

fn hmac512(key: &[u8], message: &[u8]) -> String {
    let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// The headers that sign a request for `dialect`: REBORNPAY's `X-Timestamp` and
/// `X-Signature` = lowercase hex HMAC-SHA256(secret, "{timestamp}.{body}").
pub fn request_headers(
    dialect: &str,
    secret: &str,
    timestamp: &str,
    body: &[u8],
) -> Result<Vec<(String, String)>, String> {
    match dialect {
        "rebornpay" => {
            let mut message = format!("{timestamp}.").into_bytes();
            message.extend_from_slice(body);
            Ok(vec![
                ("X-Timestamp".to_owned(), timestamp.to_owned()),
                ("X-Signature".to_owned(), hmac256(secret.as_bytes(), &message)),
            ])
        }
        other => Err(format!("{other} has no request signing")),
    }
}

/// The variable holding the secret requests of `dialect` are signed with.
pub fn request_secret_var(dialect: &str) -> Result<&'static str, String> {
    match dialect {
        "rebornpay" => Ok("credentials.api_secret"),
        other => Err(format!("{other} has no request signing")),
    }
}

/// A delivery's headers, by lower-case name.
pub type Headers = std::collections::BTreeMap<String, String>;

/// Checks a webhook's signature the way the dialect's merchants are told to.
pub fn verify_webhook(dialect: &str, credentials: &Credentials, headers: &Headers, body: &[u8]) -> Result<(), String> {
    let header = |name: &str| headers.get(name).cloned().ok_or_else(|| format!("no {name} header"));
    let expect = |name: &str, got: String, want: String| {
        if got.eq_ignore_ascii_case(&want) { Ok(()) } else { Err(format!("{name} is {got:?}, expected {want:?}")) }
    };
    match dialect {
        // X-REBORNPAY-Signature: sha256=<hex HMAC-SHA256(api_secret, raw body)>
        "rebornpay" => {
            let secret = credentials.get("credentials.api_secret")?;
            let want = format!("sha256={}", hmac256(secret.as_bytes(), body));
            expect("X-REBORNPAY-Signature", header("x-rebornpay-signature")?, want)
        }
        // X-ShadhinPay-Signature over the raw body, and the body's own `signature` over
        // the compact JSON of the body without it; both HMAC-SHA256(secret_key).
        "shadhinpay" => {
            let secret = credentials.get("credentials.secret_key")?;
            let want = format!("sha256={}", hmac256(secret.as_bytes(), body));
            expect("X-ShadhinPay-Signature", header("x-shadhinpay-signature")?, want)?;
            let mut json: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
            let inner = json
                .as_object_mut()
                .and_then(|o| o.remove("signature"))
                .and_then(|s| s.as_str().map(str::to_owned))
                .ok_or("body has no signature field")?;
            let compact = serde_json::to_vec(&json).map_err(|e| e.to_string())?;
            expect("body signature", inner, format!("sha256={}", hmac256(secret.as_bytes(), &compact)))
        }
        // X-StarPay-Signature: sha256=<hex HMAC-SHA256(api_key, raw body)>
        "starpay" => {
            let key = credentials.get("credentials.api_key")?;
            let want = format!("sha256={}", hmac256(key.as_bytes(), body));
            expect("X-StarPay-Signature", header("x-starpay-signature")?, want)
        }
        // X-Signature: Base64(UTF-8 of lowercase hex HMAC-SHA512(api_key, raw form body))
        "qrmoney" => {
            let key = credentials.get("credentials.api_key")?;
            let want = base64::engine::general_purpose::STANDARD.encode(hmac512(key.as_bytes(), body));
            let got = header("x-signature")?;
            if got == want { Ok(()) } else { Err(format!("X-Signature is {got:?}, expected {want:?}")) }
        }
        other => Err(format!("{other} sends no signed webhooks")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(pairs: &[(&str, &str)]) -> Credentials {
        let mut c = Credentials::default();
        for (k, v) in pairs {
            c.set(k, v);
        }
        c
    }

    fn headers(name: &str, value: &str) -> Headers {
        [(name.to_owned(), value.to_owned())].into()
    }

    // Expected values computed with Python's hmac module.
    #[test]
    fn rebornpay_webhooks_verify() {
        let body = br#"{"event":"test.ping","data":{"hello":"world"}}"#;
        let c = creds(&[("credentials.api_secret", "sk_test_demo")]);
        let sig = "sha256=552b5ac98230ef897e058315af26d79c1008ad354d711b16b65ce831a0785234";
        assert!(verify_webhook("rebornpay", &c, &headers("x-rebornpay-signature", sig), body).is_ok());
        assert!(verify_webhook("rebornpay", &c, &headers("x-rebornpay-signature", "sha256=00"), body).is_err());
        assert!(verify_webhook("rebornpay", &c, &Headers::new(), body).is_err());
    }

    #[test]
    fn starpay_and_qrmoney_webhooks_verify() {
        let c = creds(&[("credentials.api_key", "sp_key")]);
        let sig = "sha256=6129e5248d607cc9c0962eb9c903217e101d4c16eba6512722770ef3c3730ab3";
        assert!(
            verify_webhook("starpay", &c, &headers("x-starpay-signature", sig), br#"{"event":"payment.completed"}"#)
                .is_ok()
        );
        let c = creds(&[("credentials.api_key", "qr_key")]);
        let sig = "OWZmNTA3ZjRkOTVkNzJlYWU2ODUwZTAyYWYyY2MzODM4ZTFhOTc5ZmZlOWE4MzFiY2U4NTZkNmIxYTY0YjliYzliNmI0MTJjMmI0YmY3MjM4Y2MwM2QyNWEzZDU2ZWU1MTBiNDUwNTE1ZGJhMTU2ODk2M2VjNjU3MGJjYjc1NWU=";
        assert!(verify_webhook("qrmoney", &c, &headers("x-signature", sig), b"id=1&status=paid").is_ok());
    }

    #[test]
    fn shadhinpay_checks_header_and_body_signatures() {
        let c = creds(&[("credentials.secret_key", "sec")]);
        let inner = "sha256=54d8f19674ff1f67c34a93a6fa3acfaba2c5f0d89c7575f0638a7704cf24c834";
        let body = format!(
            r#"{{"event":"payment.completed","timestamp":"t","data":{{"payment_id":"SP_1"}},"signature":"{inner}"}}"#
        );
        let outer = format!("sha256={}", hmac256(b"sec", body.as_bytes()));
        assert!(verify_webhook("shadhinpay", &c, &headers("x-shadhinpay-signature", &outer), body.as_bytes()).is_ok());
        let tampered = body.replace("SP_1", "SP_2");
        let outer = format!("sha256={}", hmac256(b"sec", tampered.as_bytes()));
        assert!(
            verify_webhook("shadhinpay", &c, &headers("x-shadhinpay-signature", &outer), tampered.as_bytes()).is_err()
        );
    }

    #[test]
    fn rebornpay_requests_sign_timestamp_and_body() {
        let h = request_headers("rebornpay", "Jefe", "1", b"x").unwrap();
        assert_eq!(h[1].1, hmac256(b"Jefe", b"1.x"));
    }
}
