//! Length-prefixed msgpack frames for the local Unix sockets (CLI <-> master).
//!
//! A frame is a 4-byte big-endian length and that many bytes of msgpack (maps,
//! `to_vec_named`). The length is checked against a cap before any allocation.

use serde::{Serialize, de::DeserializeOwned};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[derive(Debug, Error)]
pub enum FrameError {
    #[error("connection closed")]
    Closed,
    #[error("frame of {size} bytes exceeds the {cap}-byte cap")]
    TooLarge { size: usize, cap: usize },
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("undecodable frame: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
    #[error("unencodable message: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
}

/// Encode a message as a msgpack map.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    Ok(rmp_serde::to_vec_named(msg)?)
}

/// Decode a msgpack message, refusing anything above `cap` bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], cap: usize) -> Result<T, FrameError> {
    if bytes.len() > cap {
        return Err(FrameError::TooLarge {
            size: bytes.len(),
            cap,
        });
    }
    Ok(rmp_serde::from_slice(bytes)?)
}

/// Write a frame without flushing (the caller flushes after a batch).
pub async fn write_frame_unflushed<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    msg: &T,
) -> Result<(), FrameError> {
    write_encoded_frame_unflushed(w, &encode(msg)?).await
}

/// Write a message already encoded as msgpack as a frame, without flushing.
pub async fn write_encoded_frame_unflushed<W: AsyncWrite + Unpin>(
    w: &mut W,
    bytes: &[u8],
) -> Result<(), FrameError> {
    let len = u32::try_from(bytes.len()).map_err(|_| FrameError::TooLarge {
        size: bytes.len(),
        cap: u32::MAX as usize,
    })?;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(bytes).await?;
    Ok(())
}

pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    msg: &T,
) -> Result<(), FrameError> {
    write_frame_unflushed(w, msg).await?;
    w.flush().await?;
    Ok(())
}

pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
    cap: usize,
) -> Result<T, FrameError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let size = u32::from_be_bytes(len) as usize;
    if size > cap {
        return Err(FrameError::TooLarge { size, cap });
    }
    let mut buf = vec![0u8; size];
    r.read_exact(&mut buf).await?;
    decode(&buf, cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_oversize_is_refused() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        write_frame(&mut a, &vec!["x".to_string(); 3])
            .await
            .expect("write");
        let got: Vec<String> = read_frame(&mut b, 1024).await.expect("read");
        assert_eq!(got.len(), 3);
        write_frame(&mut a, &"y".repeat(100)).await.expect("write");
        assert!(matches!(
            read_frame::<_, String>(&mut b, 10).await,
            Err(FrameError::TooLarge { .. })
        ));
    }
}
