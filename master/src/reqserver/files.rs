//! The file server on the request channel (`salt://`): its environments,
//! an environment's manifest and a file's chunks. Reads run on blocking
//! threads; a missing file or a path that leaves its root is refused with
//! Salt-like text for the minion to report.

use std::sync::Arc;

use brine_common::ids::{RelPath, SaltEnv};
use brine_common::wire::{MAX_FILE_CHUNK, Reply};

use crate::fileserver::{FileServer, FileServerError};

/// The environments every backend serves.
pub(crate) fn environments(fileserver: &FileServer) -> Reply {
    Reply::FileEnvs(fileserver.environments())
}

/// Every file of `saltenv`, with its hash.
pub(crate) async fn list(fileserver: &Arc<FileServer>, saltenv: SaltEnv) -> Reply {
    let fs = fileserver.clone();
    file_reply(
        tokio::task::spawn_blocking(move || fs.manifest(&saltenv).map(Reply::FileList)).await,
    )
}

/// At most [`MAX_FILE_CHUNK`] bytes of `path` from `offset`.
pub(crate) async fn chunk(
    fileserver: &Arc<FileServer>,
    saltenv: SaltEnv,
    path: RelPath,
    offset: u64,
    len: u32,
) -> Reply {
    let fs = fileserver.clone();
    let len = len.min(MAX_FILE_CHUNK) as usize;
    file_reply(
        tokio::task::spawn_blocking(move || {
            fs.read_chunk(&saltenv, &path, offset, len)
                .map(|(data, size)| Reply::FileChunk { data, size })
        })
        .await,
    )
}

/// A file-server answer, or refusal text.
fn file_reply(result: Result<Result<Reply, FileServerError>, tokio::task::JoinError>) -> Reply {
    match result {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => Reply::Refused {
            reason: e.to_string(),
        },
        Err(_) => Reply::Refused {
            reason: "file server unavailable".into(),
        },
    }
}
