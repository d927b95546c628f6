//! An echo server and a client over TCP loopback: the client opens a few
//! typed streams at once, sends on each, and checks the echo.
//!
//! ```text
//! cargo run -p braid-tokio --example echo
//! BRAID_TRACE=1 cargo run -p braid-tokio --example echo   # every frame, both ends
//! ```

use braid_tokio::{Config, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;

    // The server: one session per connection, one task per stream.
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let session = Session::server(tcp, Config::default().label("server").trace_from_env());
            tokio::spawn(async move {
                while let Ok(stream) = session.accept().await {
                    let kind = stream.metadata().map_or(0, |m| m.stream_type);
                    tokio::spawn(async move {
                        let (mut r, mut w) = stream.into_split();
                        let copied = tokio::io::copy(&mut r, &mut w).await?;
                        w.shutdown().await?;
                        println!("server: echoed {copied} bytes on a stream of type {kind}");
                        std::io::Result::Ok(())
                    });
                }
                println!("server: session ended: {}", session.closed().await);
            });
        }
    });

    // The client: three streams at once over one connection.
    let session =
        Session::client(TcpStream::connect(addr).await?, Config::default().label("client").trace_from_env());
    let mut tasks = Vec::new();
    for i in 0..3u32 {
        let session = session.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = session.open_with(i, [("greeting", "hello")]).await?;
            let message = format!("message {i} ").repeat(1000 * (i as usize + 1));
            stream.write_all(message.as_bytes()).await?;
            stream.shutdown().await?;
            let mut echo = Vec::new();
            stream.read_to_end(&mut echo).await?;
            assert_eq!(echo, message.as_bytes());
            println!("client: stream {} echoed {} bytes", stream.id(), echo.len());
            std::io::Result::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    println!("client: ping {:?}", session.ping().await.map_err(std::io::Error::from)?);
    let end = session.close().await;
    println!("client: session ended: {end}");
    Ok(())
}
