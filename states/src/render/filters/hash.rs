//! Salt's digest filters (`salt/utils/hashutils.py`) and `uuid`
//! (`salt/utils/jinja.py`): hex digests of the text's UTF-8 bytes.

use minijinja::Environment;
use ring::{digest, hmac};

/// Adds the digest filters to `env`.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("sha1", |t: String| {
        hex_digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &t)
    });
    env.add_filter("sha256", |t: String| hex_digest(&digest::SHA256, &t));
    env.add_filter("sha512", |t: String| hex_digest(&digest::SHA512, &t));
    env.add_filter("hmac_compute", hmac_compute);
    env.add_filter("uuid", |t: String| uuid5(&t));
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_digest(algorithm: &'static digest::Algorithm, text: &str) -> String {
    hex(digest::digest(algorithm, text.as_bytes()).as_ref())
}

/// `|hmac_compute(secret)`: HMAC-SHA256 of the text, in hex.
fn hmac_compute(text: String, secret: String) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hex(hmac::sign(&key, text.as_bytes()).as_ref())
}

/// Salt's namespace for `|uuid`: `91633EBF-1C86-5E33-935A-28061F4B480E`.
const SALT_UUID_NAMESPACE: [u8; 16] = [
    0x91, 0x63, 0x3e, 0xbf, 0x1c, 0x86, 0x5e, 0x33, 0x93, 0x5a, 0x28, 0x06, 0x1f, 0x4b, 0x48, 0x0e,
];

/// RFC 4122 version 5 (SHA-1) UUID of `name` in Salt's namespace.
fn uuid5(name: &str) -> String {
    let mut input = SALT_UUID_NAMESPACE.to_vec();
    input.extend_from_slice(name.as_bytes());
    let sha = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&sha.as_ref()[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h = hex(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_filters_uuid_is_salt_uuid5() {
        // `{{ 'example'|uuid }}` in Salt 3008.5.
        assert_eq!(uuid5("example"), "9ade8beb-355a-50d8-9011-1c99848a7719");
    }

    #[test]
    fn render_filters_hmac_compute_is_hmac_sha256_hex() {
        assert_eq!(
            hmac_compute("salt".into(), "shared secret".into()),
            "33b728ade3b4f185e498fd5bf102ca4b7bcb22af49625ec8435b4b47987aca8c"
        );
    }
}
