//! `tinydb [ADDR]`: a tiny in-memory key/value server (Tokio's `tinydb` example), default
//! 127.0.0.1:8080. One request per line over TCP:
//!
//! - `GET key` answers `key = value`, or `error: no key key`;
//! - `SET key value` answers ``set key = `value`, previous: Some("old")`` (or `None`);
//! - anything else answers `error: ...`.
//!
//! The database starts with `foo = bar` and is shared by all connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::SinkExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_stream::StreamExt;
use tokio_util::codec::{Framed, LinesCodec};

type Db = Arc<Mutex<HashMap<String, String>>>;

enum Request {
    Get(String),
    Set(String, String),
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!("Listening on: {addr}");
    let db: Db = Arc::new(Mutex::new(HashMap::from([("foo".to_string(), "bar".to_string())])));
    loop {
        match listener.accept().await {
            Ok((socket, _)) => {
                tokio::spawn(serve(socket, db.clone()));
            }
            Err(e) => println!("error accepting socket; error = {e:?}"),
        }
    }
}

async fn serve(socket: TcpStream, db: Db) {
    let mut lines = Framed::new(socket, LinesCodec::new());
    while let Some(line) = lines.next().await {
        match line {
            Ok(line) => {
                let answer = answer(&line, &db);
                if let Err(e) = lines.send(answer).await {
                    println!("error on sending response; error = {e:?}");
                }
            }
            Err(e) => println!("error on decoding from socket; error = {e:?}"),
        }
    }
}

fn answer(line: &str, db: &Db) -> String {
    let request = match parse(line) {
        Ok(r) => r,
        Err(msg) => return format!("error: {msg}"),
    };
    let mut map = db.lock().unwrap();
    match request {
        Request::Get(key) => match map.get(&key) {
            Some(value) => format!("{key} = {value}"),
            None => format!("error: no key {key}"),
        },
        Request::Set(key, value) => {
            let previous = map.insert(key.clone(), value.clone());
            format!("set {key} = `{value}`, previous: {previous:?}")
        }
    }
}

fn parse(line: &str) -> Result<Request, String> {
    let mut words = line.splitn(3, ' ');
    match words.next() {
        Some("GET") => {
            let key = words.next().ok_or("GET must be followed by a key")?;
            if words.next().is_some() {
                return Err("GET's key must not be followed by anything".into());
            }
            Ok(Request::Get(key.to_string()))
        }
        Some("SET") => {
            let key = words.next().ok_or("SET must be followed by a key")?;
            let value = words.next().ok_or("SET needs a value")?;
            Ok(Request::Set(key.to_string(), value.to_string()))
        }
        Some(other) => Err(format!("unknown command: {other}")),
        None => Err("empty input".into()),
    }
}
