//! TLS for the API: loading `ssl_crt`/`ssl_key` into a rustls server config
//! (ring provider only), and `--gen-self-signed` for a first run.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::settings::TlsFiles;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "{path}: {message} (set rest_api ssl_crt/ssl_key, or run `brine-api --gen-self-signed` once)"
    )]
    Load { path: String, message: String },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("generating a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The rustls server config for the certificate and key files.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let load_err = |path: &Path, message: String| TlsError::Load {
        path: path.display().to_string(),
        message,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.crt)
        .map_err(|e| load_err(&files.crt, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| load_err(&files.crt, e.to_string()))?;
    if certs.is_empty() {
        return Err(load_err(&files.crt, "no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| load_err(&files.key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Write a self-signed certificate for `names` and its key (mode 0600),
/// unless both files exist already. Returns whether it wrote them.
pub fn gen_self_signed(files: &TlsFiles, names: &[String]) -> Result<bool, TlsError> {
    if files.crt.exists() && files.key.exists() {
        return Ok(false);
    }
    let generated = rcgen::generate_simple_self_signed(names.to_vec())?;
    write_file(
        &files.key,
        generated.signing_key.serialize_pem().as_bytes(),
        0o600,
    )?;
    write_file(&files.crt, generated.cert.pem().as_bytes(), 0o644)?;
    Ok(true)
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let err = |source| TlsError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(err)?;
    file.write_all(contents).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = TlsFiles {
            crt: dir.path().join("api/c.crt"),
            key: dir.path().join("api/c.key"),
        };
        assert!(gen_self_signed(&files, &["localhost".into()]).expect("generate"));
        assert!(!gen_self_signed(&files, &["localhost".into()]).expect("kept"));
        server_config(&files).expect("loads");
    }

    #[test]
    fn missing_files_name_the_path() {
        let files = TlsFiles {
            crt: "/nonexistent/x.crt".into(),
            key: "/nonexistent/x.key".into(),
        };
        let e = server_config(&files).expect_err("missing");
        assert!(e.to_string().contains("/nonexistent/x.crt"));
    }
}
