//! The answer's bounds against a stand-in server on loopback that speaks just enough of the
//! protocol (v3) to be connected to, then answers each query as the test says: never, or with a
//! WARNING before the command's completion, as PostgreSQL answers a commit whose wait for the
//! synchronous standby was cancelled.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::super::{ConnRole, PgConn};
use crate::database::Conninfo;

/// One protocol message: its type byte, its length, its body.
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = i32::try_from(body.len() + 4).unwrap();
    [&[kind][..], &len.to_be_bytes(), body].concat()
}

fn read_body(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; usize::try_from(i32::from_be_bytes(len)).ok()? - 4];
    s.read_exact(&mut body).ok()?;
    Some(body)
}

/// How the stand-in answers a simple query.
#[derive(Clone, Copy)]
enum Answer {
    Never,
    CompleteWithWarning,
}

/// A stand-in server for one connection; its port.
fn stand_in(answer: Answer) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        // An SSLRequest (sslmode=prefer) is declined; then the startup packet.
        while read_body(&mut s).is_some_and(|b| b[..4] == 80_877_103i32.to_be_bytes()) {
            s.write_all(b"N").unwrap();
        }
        let ok = [
            message(b'R', &0i32.to_be_bytes()),
            message(b'S', b"server_version\x0015.0\x00"),
            message(b'Z', b"I"),
        ];
        s.write_all(&ok.concat()).unwrap();
        let mut kind = [0u8; 1];
        while s.read_exact(&mut kind).is_ok() && read_body(&mut s).is_some() {
            if kind[0] != b'Q' {
                continue;
            }
            if let Answer::CompleteWithWarning = answer {
                let notice = b"SWARNING\x00VWARNING\x00C01000\x00Mcanceling wait for synchronous replication due to user request\x00\x00";
                let reply = [message(b'N', notice), message(b'C', b"COMMIT\x00"), message(b'Z', b"I")];
                s.write_all(&reply.concat()).unwrap();
            }
        }
    });
    port
}

fn connect(port: u16) -> PgConn {
    let uri = format!("postgresql://host_a@127.0.0.1:{port}/pam_tap?sslmode=disable");
    PgConn::connect(&Conninfo::new(&uri).unwrap(), ConnRole::Host).expect("the stand-in accepts")
}

#[test]
fn an_answer_that_never_comes_is_given_up_at_the_bound_and_the_connection_with_it() {
    let mut conn = connect(stand_in(Answer::Never));
    conn.answer_within(Duration::from_millis(300));
    let t = Instant::now();
    let err = conn.batch("COMMIT").unwrap_err().to_string();
    let waited = t.elapsed();
    assert!(err.contains("no answer from the server within 1 s"), "{err}");
    assert!(
        (Duration::from_millis(300)..Duration::from_secs(3)).contains(&waited),
        "{waited:?}"
    );
    // Nothing more is sent on it, and nothing more waits.
    let t = Instant::now();
    let err = conn.query("SELECT 1", &[]).unwrap_err().to_string();
    assert!(err.contains("given up"), "{err}");
    assert!(t.elapsed() < Duration::from_millis(100));
    let sent = conn.statements_sent();
    conn.pad_on_drop(5);
    conn.pad();
    assert_eq!(conn.statements_sent(), sent, "a given-up connection is not padded");
}

#[test]
fn a_commit_answered_with_a_warning_is_refused_where_warnings_are() {
    let mut host = connect(stand_in(Answer::CompleteWithWarning));
    host.refuse_warnings();
    let err = host.batch("COMMIT").unwrap_err().to_string();
    assert!(
        err.contains("WARNING") && err.contains("canceling wait for synchronous replication"),
        "{err}"
    );
    // tapctl's connections do not refuse them (a GRANT may warn).
    let mut admin = connect(stand_in(Answer::CompleteWithWarning));
    admin.batch("COMMIT").expect("a warning alone is no error here");
}
