//! Connectivity probes for scenarios: ping, TCP connect, HTTP GET, each from
//! inside a namespace. They change nothing, so they are not journaled; a dry
//! run notes what would be tried and assumes success.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rhai::{Engine, Map};

use super::convert::{script_error, Netns, Opts, OrScript, RhaiResult};
use super::Api;
use plumb_kernel::probe;

fn timeout(opts: &Opts, default: f64) -> RhaiResult<Duration> {
    Ok(Duration::from_secs_f64(
        opts.seconds("timeout")?.unwrap_or(default),
    ))
}

fn ip_arg(func: &str, text: &str) -> RhaiResult<IpAddr> {
    text.parse().map_err(|_| {
        script_error(format!(
            "{func}(): '{text}' is not an IP address like 10.0.0.2"
        ))
    })
}

fn target_arg(func: &str, text: &str) -> RhaiResult<SocketAddr> {
    text.parse().map_err(|_| {
        script_error(format!(
            "{func}(): '{text}' is not an address and port like 10.0.0.2:80"
        ))
    })
}

impl Api {
    fn probe<T>(
        &self,
        what: String,
        assumed: T,
        f: impl FnOnce() -> plumb_kernel::Result<T>,
    ) -> Result<T, plumb_journal::Failure> {
        self.session.borrow_mut().probe(&what, assumed, f)
    }
}

/// Register `NAME(ns, ARG)` and `NAME(ns, ARG, #{ timeout })` over one
/// implementation `f(ns, arg, opts)`.
macro_rules! probe {
    ($engine:expr, $name:literal, $arg:literal, $ret:literal, $doc:literal, $f:expr) => {{
        let f = $f;
        let short = f.clone();
        api!(
            $engine,
            $name,
            ["ns: Netns", $arg, $ret],
            $doc,
            move |ns: Netns, arg: &str| short(ns, arg, Opts::empty($name))
        );
        api!(
            $engine,
            $name,
            ["ns: Netns", $arg, "opts: Map", $ret],
            "The same with options: #{ timeout } in seconds.",
            move |ns: Netns, arg: &str, opts: Map| f(
                ns,
                arg,
                Opts::new($name, opts, &["timeout"])?
            )
        );
    }};
}

pub fn register(engine: &mut Engine, api: &Api) {
    let a = api.clone();
    probe!(
        engine,
        "ping",
        "ip: &str",
        "bool",
        "True when one ping from `ns` to `ip` is answered within 1 s.",
        move |ns: Netns, ip: &str, opts: Opts| -> RhaiResult<bool> {
            let ip = ip_arg("ping", ip)?;
            let limit = timeout(&opts, 1.0)?;
            a.probe(format!("ping {ip} from {}", ns.name()), true, || {
                probe::ping(&ns.0, ip, limit)
            })
            .or_script()
        }
    );

    let a = api.clone();
    probe!(
        engine,
        "tcp_connect",
        "target: &str",
        "bool",
        "True when a TCP connection from `ns` to `target` (\"ip:port\") opens within 2 s.",
        move |ns: Netns, target: &str, opts: Opts| -> RhaiResult<bool> {
            let target = target_arg("tcp_connect", target)?;
            let limit = timeout(&opts, 2.0)?;
            a.probe(
                format!("TCP connect to {target} from {}", ns.name()),
                true,
                || Ok(probe::tcp_connect(&ns.0, target, limit).is_ok()),
            )
            .or_script()
        }
    );

    let a = api.clone();
    probe!(engine, "wait_tcp", "target: &str", "()",
        "Wait (up to 10 s) until `target` (\"ip:port\") accepts TCP from `ns`: a server just spawned needs a moment.",
        move |ns: Netns, target: &str, opts: Opts| -> RhaiResult<()> {
            let target = target_arg("wait_tcp", target)?;
            let limit = timeout(&opts, 10.0)?;
            let from = ns.name();
            a.probe(format!("wait until {target} accepts TCP from {from}"), (), || {
                probe::wait_tcp(&ns.0, target, limit)
            })
            .map_err(|f| script_error(format!(
                "wait_tcp(): nothing accepted TCP on {target} from {from} within {limit:?}: {}", f.error
            )))
        });

    let a = api.clone();
    probe!(engine, "http_get", "url: &str", "String",
        "GET `url` (http://IP[:PORT]/PATH) from inside `ns` and return the body; fails unless the answer is 2xx within 5 s.",
        move |ns: Netns, url: &str, opts: Opts| -> RhaiResult<String> {
            let parsed = probe::parse_http_url(url).or_script()?;
            let limit = timeout(&opts, 5.0)?;
            let from = ns.name();
            a.probe(format!("GET {url} from {from}"), String::new(), || {
                probe::http_get(&ns.0, &parsed, limit)
            })
            .map_err(|f| script_error(format!("http_get() from {from}: {}", f.error)))
        });
}
