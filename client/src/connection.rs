//! Talking to the master over its local socket: a [`Connection`] carries one
//! request and its replies, and [`Client`] sends each kind of request and
//! checks that the reply answers it, so every CLI and `brine-api` read the
//! master's answers the same way.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use brine_common::frame::{FrameError, read_frame, write_frame};
use brine_common::ids::{Jid, MinionId};
use brine_common::target::TargetType;
use serde_json::{Map, Value};
use tokio::io::BufReader;
use tokio::net::UnixStream;

use crate::protocol::{
    CLIENT_FRAME_CAP, ClientReply, ClientRequest, JobRequest, KeyCommand, KeyReply, socket_path,
};
use crate::wait::{Arrived, EventSource, JobWaiter, Next, WaitUpdate};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the master at {path}: {source} (is brine-master running with this config dir?)"
    )]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("lost the connection to the master: {0}")]
    Frame(#[from] FrameError),
    /// The master answered with an error message.
    #[error("{0}")]
    Master(String),
    /// `publisher_acl` refused this user the job (Salt's "Authorization
    /// error occurred." and "Authentication error occurred.").
    #[error("{0}")]
    Refused(String),
    /// A reply that does not answer the request sent.
    #[error("unexpected reply from the master: {0:?}")]
    Unexpected(Box<ClientReply>),
    /// The reply stream of a watched job failed while waiting for returns.
    #[error("{0}")]
    Stream(String),
}

/// A connection to the master that has sent its request.
pub struct Connection {
    /// Buffered: a watched job's thousands of events arrive back to back,
    /// and unbuffered each frame cost two reads (its length, its body).
    stream: BufReader<UnixStream>,
}

impl Connection {
    pub async fn open(sock_dir: &Path, request: &ClientRequest) -> Result<Self, ClientError> {
        let path = socket_path(sock_dir);
        let mut stream =
            UnixStream::connect(&path)
                .await
                .map_err(|source| ClientError::Connect {
                    path: path.display().to_string(),
                    source,
                })?;
        write_frame(&mut stream, request).await?;
        Ok(Connection {
            stream: BufReader::with_capacity(64 * 1024, stream),
        })
    }

    /// The next reply, as it came (an `Error` reply included).
    pub async fn next(&mut self) -> Result<ClientReply, ClientError> {
        Ok(read_frame(&mut self.stream, CLIENT_FRAME_CAP).await?)
    }

    /// The next reply; an `Error` reply is an error.
    async fn next_answer(&mut self) -> Result<ClientReply, ClientError> {
        match self.next().await? {
            ClientReply::Error { message } => Err(ClientError::Master(message)),
            ClientReply::Refused { message } => Err(ClientError::Refused(message)),
            reply => Ok(reply),
        }
    }
}

impl EventSource for Connection {
    async fn next_event(&mut self) -> Next {
        match self.next().await {
            Ok(ClientReply::Event(ev)) => Next::Event(ev),
            Ok(_) => Next::Nothing,
            Err(e) => Next::Closed(Some(e.to_string())),
        }
    }
}

/// Send one request and read its single reply, as it came.
pub async fn request(sock_dir: &Path, request: &ClientRequest) -> Result<ClientReply, ClientError> {
    Connection::open(sock_dir, request).await?.next().await
}

/// A job the master published; with `watch`, its events follow on `conn`.
pub struct Published {
    conn: Connection,
    pub jid: Jid,
    pub minions: Vec<MinionId>,
    /// Expected minions with no live session at publish time.
    pub not_connected: Vec<MinionId>,
}

impl Published {
    /// Wait for the returns of a watched publication until every expected
    /// minion has returned or been given up on after `timeout` of silence;
    /// `on_return` sees each return as it arrives. Gives the minions that
    /// did not return, with the reason to print.
    pub async fn wait(
        self,
        timeout: Duration,
        mut on_return: impl FnMut(Arrived),
    ) -> Result<Vec<(String, &'static str)>, ClientError> {
        self.wait_observed(timeout, None, |update| {
            if let WaitUpdate::Returned(arrived) = update {
                on_return(arrived);
            }
        })
        .await
    }

    /// [`Published::wait`] that also reports the job's [`crate::wait::Tally`]
    /// as it changes and every `tick` (the CLI's progress line).
    pub async fn wait_observed(
        mut self,
        timeout: Duration,
        tick: Option<Duration>,
        observe: impl FnMut(WaitUpdate<'_>),
    ) -> Result<Vec<(String, &'static str)>, ClientError> {
        let names = |ids: &[MinionId]| ids.iter().map(MinionId::to_string).collect::<Vec<_>>();
        let mut waiter = JobWaiter::new(
            self.jid.as_str(),
            &names(&self.minions),
            &names(&self.not_connected),
            timeout,
            Instant::now(),
        );
        waiter
            .drive_observed(&mut self.conn, tick, observe)
            .await
            .map_err(ClientError::Stream)?;
        Ok(waiter.missing())
    }
}

/// The master's local socket in `sock_dir`: one connection per request.
#[derive(Debug, Clone)]
pub struct Client {
    sock_dir: PathBuf,
}

impl Client {
    pub fn new(sock_dir: impl Into<PathBuf>) -> Self {
        Client {
            sock_dir: sock_dir.into(),
        }
    }

    /// Send a request that has one reply; an `Error` reply is an error.
    pub async fn ask(&self, req: &ClientRequest) -> Result<ClientReply, ClientError> {
        Connection::open(&self.sock_dir, req)
            .await?
            .next_answer()
            .await
    }

    /// Publish `job` and read the master's first reply; `None` when the
    /// target matched no minion (nothing was published).
    pub async fn publish(
        &self,
        job: JobRequest,
        watch: bool,
    ) -> Result<Option<Published>, ClientError> {
        let request = ClientRequest::Publish { job, watch };
        let mut conn = Connection::open(&self.sock_dir, &request).await?;
        match conn.next_answer().await? {
            ClientReply::Published {
                jid,
                minions,
                not_connected,
            } => Ok(Some(Published {
                conn,
                jid,
                minions,
                not_connected,
            })),
            ClientReply::NoMinions => Ok(None),
            other => Err(unexpected(other)),
        }
    }

    /// A live subscription to the bus events whose tag matches `tag_glob`
    /// (every event when `None`): the master has confirmed it, so no event
    /// fired after this returns is missed.
    pub async fn subscribe(&self, tag_glob: Option<String>) -> Result<Connection, ClientError> {
        let mut conn =
            Connection::open(&self.sock_dir, &ClientRequest::Events { tag_glob }).await?;
        match conn.next_answer().await? {
            ClientReply::Lagged(_) => Ok(conn),
            other => Err(unexpected(other)),
        }
    }

    /// Run a runner on the master: its return and retcode.
    pub async fn runner(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<(Value, i32), ClientError> {
        let req = ClientRequest::Runner {
            fun: fun.to_string(),
            args,
            kwargs,
        };
        match self.ask(&req).await? {
            ClientReply::RunnerResult { ret, retcode } => Ok((ret, retcode)),
            other => Err(unexpected(other)),
        }
    }

    pub async fn keys(&self, cmd: KeyCommand) -> Result<KeyReply, ClientError> {
        match self.ask(&ClientRequest::Keys(cmd)).await? {
            ClientReply::Keys(reply) => Ok(reply),
            other => Err(unexpected(other)),
        }
    }

    /// Fire an event on the master's bus.
    pub async fn fire(&self, tag: String, data: Value) -> Result<(), ClientError> {
        match self.ask(&ClientRequest::FireEvent { tag, data }).await? {
            ClientReply::Fired => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// The accepted minions the master expects a publication of this
    /// target to reach (nodegroups expanded).
    pub async fn matching(
        &self,
        tgt: Value,
        tgt_type: TargetType,
    ) -> Result<Vec<MinionId>, ClientError> {
        match self.ask(&ClientRequest::Match { tgt, tgt_type }).await? {
            ClientReply::Matched { minions } => Ok(minions),
            other => Err(unexpected(other)),
        }
    }
}

fn unexpected(reply: ClientReply) -> ClientError {
    ClientError::Unexpected(Box::new(reply))
}

#[cfg(test)]
mod tests {
    use super::*;
    use brine_common::event::Event;
    use serde_json::json;
    use tokio::net::UnixListener;

    /// A master that reads one request and answers it with `replies`,
    /// then keeps the connection open until the client hangs up.
    fn fake_master(
        dir: &Path,
        replies: Vec<ClientReply>,
    ) -> tokio::task::JoinHandle<ClientRequest> {
        let listener = UnixListener::bind(socket_path(dir)).expect("bind");
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let request: ClientRequest = read_frame(&mut stream, CLIENT_FRAME_CAP)
                .await
                .expect("request");
            for reply in &replies {
                write_frame(&mut stream, reply).await.expect("reply");
            }
            let _ = read_frame::<_, ClientRequest>(&mut stream, CLIENT_FRAME_CAP).await;
            request
        })
    }

    fn job() -> JobRequest {
        JobRequest {
            tgt: json!("*"),
            tgt_type: TargetType::Glob,
            fun: "test.ping".into(),
            arg: Vec::new(),
            kwarg: Map::new(),
            user: String::new(),
        }
    }

    fn id(raw: &str) -> MinionId {
        MinionId::parse(raw).expect("minion id")
    }

    #[tokio::test]
    async fn a_published_job_is_waited_for_until_every_minion_is_accounted_for() {
        let dir = tempfile::tempdir().expect("tempdir");
        let jid = Jid::parse("20261121234019509933").expect("jid");
        let ret = Event::new(
            format!("salt/job/{jid}/ret/m1"),
            json!({"return": true, "retcode": 0}),
        );
        let master = fake_master(
            dir.path(),
            vec![
                ClientReply::Published {
                    jid: jid.clone(),
                    minions: vec![id("m1"), id("m2")],
                    not_connected: vec![id("m2")],
                },
                ClientReply::Event(ret),
            ],
        );
        let published = Client::new(dir.path())
            .publish(job(), true)
            .await
            .expect("publish")
            .expect("published");
        assert_eq!(published.jid, jid);
        let mut returned = Vec::new();
        let missing = published
            .wait(Duration::from_millis(100), |arrived| {
                returned.push(arrived.minion)
            })
            .await
            .expect("wait");
        assert_eq!(returned, ["m1"]);
        assert_eq!(
            missing,
            [("m2".to_string(), "Minion did not return. [Not connected]")]
        );
        let request = master.await.expect("master");
        assert!(matches!(request, ClientRequest::Publish { job: j, watch: true } if j == job()));
    }

    #[tokio::test]
    async fn no_minions_is_nothing_published() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _master = fake_master(dir.path(), vec![ClientReply::NoMinions]);
        let published = Client::new(dir.path()).publish(job(), false).await;
        assert!(matches!(published, Ok(None)));
    }

    #[tokio::test]
    async fn an_error_reply_is_the_masters_message() {
        let dir = tempfile::tempdir().expect("tempdir");
        let message = "No such runner: nope.nothing".to_string();
        let _master = fake_master(dir.path(), vec![ClientReply::Error { message }]);
        let err = Client::new(dir.path())
            .runner("nope.nothing", Vec::new(), Map::new())
            .await
            .expect_err("an error");
        assert_eq!(err.to_string(), "No such runner: nope.nothing");
    }

    #[tokio::test]
    async fn a_reply_to_another_request_is_unexpected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _master = fake_master(dir.path(), vec![ClientReply::Fired]);
        let err = Client::new(dir.path())
            .subscribe(None)
            .await
            .err()
            .expect("an error");
        assert!(matches!(err, ClientError::Unexpected(_)));
        assert_eq!(err.to_string(), "unexpected reply from the master: Fired");
    }

    #[tokio::test]
    async fn no_master_is_a_connect_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = Client::new(dir.path())
            .fire("a/b".into(), json!({}))
            .await
            .expect_err("nobody listens");
        assert!(matches!(err, ClientError::Connect { .. }));
    }
}
