//! The PROXY protocol (v1 and v2) a TCP load balancer puts before the TLS
//! handshake to tell the client's address (DESIGN §2).

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Reads exactly one PROXY protocol v1 or v2 header and returns the source
/// address it announces (`None` for UNKNOWN/LOCAL).
pub async fn read_header(stream: &mut (impl AsyncRead + Unpin)) -> anyhow::Result<Option<SocketAddr>> {
    const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
    let mut buf = vec![0u8; 16];
    stream.read_exact(&mut buf[..5]).await?;
    if &buf[..5] == b"PROXY" {
        // v1: text up to CRLF, at most 107 bytes.
        buf.truncate(5);
        while !buf.ends_with(b"\r\n") {
            anyhow::ensure!(buf.len() < 107, "PROXY v1 header too long");
            let mut b = [0u8; 1];
            stream.read_exact(&mut b).await?;
            buf.push(b[0]);
        }
    } else {
        stream.read_exact(&mut buf[5..16]).await?;
        anyhow::ensure!(&buf[..12] == V2_SIGNATURE, "connection from a trusted proxy without a PROXY header");
        let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
        anyhow::ensure!(len <= 512, "PROXY v2 header too long");
        buf.resize(16 + len, 0);
        stream.read_exact(&mut buf[16..]).await?;
    }
    let header = ppp::HeaderResult::parse(&buf);
    let addresses = match header {
        ppp::HeaderResult::V1(Ok(h)) => match h.addresses {
            ppp::v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
            ppp::v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
            ppp::v1::Addresses::Unknown => None,
        },
        ppp::HeaderResult::V2(Ok(h)) => match h.addresses {
            ppp::v2::Addresses::IPv4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
            ppp::v2::Addresses::IPv6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
            _ => None,
        },
        ppp::HeaderResult::V1(Err(e)) => anyhow::bail!("PROXY v1: {e:?}"),
        ppp::HeaderResult::V2(Err(e)) => anyhow::bail!("PROXY v2: {e:?}"),
    };
    Ok(addresses)
}
