//! Connectivity probes run from inside a namespace: a TCP connection or an
//! HTTP GET on a socket opened there, and `ping` (the real binary: what the
//! tutorials use, and ICMP sockets need privileges or sysctls anyway).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::netns::in_netns;
use crate::process;
use crate::types::NsRef;

fn probe_error(what: String, e: impl std::fmt::Display) -> Error {
    Error::Probe(format!("{what}: {e}"))
}

/// Connect to `target` from inside `ns` (the socket is created there).
fn connect(ns: &NsRef, target: SocketAddr, timeout: Duration) -> Result<TcpStream> {
    in_netns(ns, || {
        TcpStream::connect_timeout(&target, timeout)
            .map_err(|e| probe_error(format!("connect to {target}"), e))
    })
}

/// Open and close a TCP connection to `target` from `ns`.
pub fn tcp_connect(ns: &NsRef, target: SocketAddr, timeout: Duration) -> Result<()> {
    connect(ns, target, timeout).map(drop)
}

/// Retry a TCP connection until it succeeds or `timeout` passes (a server
/// just started needs a moment to listen).
pub fn wait_tcp(ns: &NsRef, target: SocketAddr, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tcp_connect(ns, target, left.min(Duration::from_secs(1))) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// A parsed `http://HOST:PORT/PATH` with a literal IP address.
#[derive(Debug, PartialEq)]
pub struct HttpUrl {
    pub addr: SocketAddr,
    pub path: String,
}

pub fn parse_http_url(url: &str) -> Result<HttpUrl> {
    let invalid = |why: &str| Error::invalid("URL", url, why);
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid("only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = authority
        .parse::<SocketAddr>()
        .or_else(|_| {
            authority
                .parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 80))
        })
        .map_err(|_| {
            invalid("expected an IP address and optional port, like http://10.0.0.2:8080/")
        })?;
    Ok(HttpUrl {
        addr,
        path: path.to_string(),
    })
}

/// GET `url` from inside `ns`; the body of a 2xx response.
pub fn http_get(ns: &NsRef, url: &HttpUrl, timeout: Duration) -> Result<String> {
    let mut stream = connect(ns, url.addr, timeout)?;
    let fail = |e: std::io::Error| probe_error(format!("GET http://{}{}", url.addr, url.path), e);
    stream.set_read_timeout(Some(timeout)).map_err(fail)?;
    stream.set_write_timeout(Some(timeout)).map_err(fail)?;
    write!(
        stream,
        "GET {} HTTP/1.0\r\nHost: {}\r\nConnection: close\r\n\r\n",
        url.path, url.addr
    )
    .map_err(fail)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(fail)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or_default();
    match status.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(body.to_string()),
        _ => Err(Error::Probe(format!(
            "GET http://{}{}: the server answered `{status}`",
            url.addr, url.path
        ))),
    }
}

/// One ping from `ns` to `ip`, waiting at most `timeout` for the reply.
pub fn ping(ns: &NsRef, ip: std::net::IpAddr, timeout: Duration) -> Result<bool> {
    let wait = timeout.as_secs_f64().max(0.001);
    let argv: Vec<String> = [
        "ping",
        "-n",
        "-q",
        "-c",
        "1",
        "-W",
        &format!("{wait:.3}"),
        &ip.to_string(),
    ]
    .map(String::from)
    .to_vec();
    let out = process::exec_in(ns, &argv, Some(timeout + Duration::from_secs(2)), None)?;
    Ok(out.code == 0 && !out.timed_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_a_literal_address() {
        let u = parse_http_url("http://10.0.2.15:5000/index.html").unwrap();
        assert_eq!(u.addr, "10.0.2.15:5000".parse().unwrap());
        assert_eq!(u.path, "/index.html");
        let u = parse_http_url("http://172.18.0.10").unwrap();
        assert_eq!(u.addr.port(), 80);
        assert_eq!(u.path, "/");
        assert!(parse_http_url("https://10.0.0.1/").is_err());
        assert!(parse_http_url("http://example.com/").is_err());
    }

    /// A TCP socket bound to a free loopback port, and the port.
    fn bound_not_listening() -> (std::os::fd::OwnedFd, u16) {
        use std::os::fd::FromRawFd;
        // SAFETY: plain socket calls on a zeroed sockaddr_in we own.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0);
            let fd = std::os::fd::OwnedFd::from_raw_fd(fd);
            let mut sa: libc::sockaddr_in = std::mem::zeroed();
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
            assert_eq!(libc::bind(raw, (&raw const sa).cast(), len), 0);
            let mut got_len = len;
            assert_eq!(
                libc::getsockname(raw, (&raw mut sa).cast(), &mut got_len),
                0
            );
            (fd, u16::from_be(sa.sin_port))
        }
    }

    #[test]
    fn a_closed_port_on_loopback_is_refused() {
        // Loopback of this test's own namespace: nothing is sent anywhere.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        tcp_connect(&NsRef::Host, addr, Duration::from_secs(1)).unwrap();
        drop(listener);
        // A port bound but not listening refuses, and is nobody's source
        // port meanwhile (a client given the freed port as its own would
        // connect to itself).
        let closed = bound_not_listening();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], closed.1));
        let err = tcp_connect(&NsRef::Host, addr, Duration::from_secs(1)).unwrap_err();
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }
}
