//! An echo server and a client over TCP loopback, on smol: the client opens
//! a few typed streams at once, sends on each, and checks the echo.
//!
//! ```text
//! cargo run -p braid-smol --example echo
//! BRAID_TRACE=1 cargo run -p braid-smol --example echo   # every frame, both ends
//! ```

use braid_smol::Config;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

fn main() -> std::io::Result<()> {
    smol::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;

        // The server: one session per connection, one task per stream.
        smol::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let session = braid_smol::server(tcp, Config::default().label("server").trace_from_env());
                smol::spawn(async move {
                    while let Ok(stream) = session.accept().await {
                        let kind = stream.metadata().map_or(0, |m| m.stream_type);
                        smol::spawn(async move {
                            let (r, mut w) = stream.split();
                            let copied = smol::io::copy(r, &mut w).await?;
                            w.close().await?; // FIN: the echo is complete
                            println!("server: echoed {copied} bytes on a stream of type {kind}");
                            std::io::Result::Ok(())
                        })
                        .detach();
                    }
                    println!("server: session ended: {}", session.closed().await);
                })
                .detach();
            }
        })
        .detach();

        // The client: three streams at once over one connection.
        let tcp = TcpStream::connect(addr).await?;
        let session = braid_smol::client(tcp, Config::default().label("client").trace_from_env());
        let mut tasks = Vec::new();
        for i in 0..3u32 {
            let session = session.clone();
            tasks.push(smol::spawn(async move {
                let mut stream = session.open_with(i, [("greeting", "hello")]).await?;
                let message = format!("message {i} ").repeat(1000 * (i as usize + 1));
                stream.write_all(message.as_bytes()).await?;
                stream.close().await?; // FIN: nothing more to send
                let mut echo = Vec::new();
                stream.read_to_end(&mut echo).await?;
                assert_eq!(echo, message.as_bytes());
                println!("client: stream {} echoed {} bytes", stream.id(), echo.len());
                std::io::Result::Ok(())
            }));
        }
        for t in tasks {
            t.await?;
        }
        println!("client: ping {:?}", session.ping().await.map_err(std::io::Error::from)?);
        let end = session.close().await;
        println!("client: session ended: {end}");
        Ok(())
    })
}
