//! Namespaces: netns(), netns_open(), netns_pid(), netns_path(), host(), netns_list().

use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};

use super::convert::{fail, Netns, Opts, OrScript, RhaiResult};
use super::Api;
use plumb_journal::Op;
use plumb_kernel::{netns, NsRef};

impl Api {
    fn create_netns(&self, ctx: &NativeCallContext, name: &str, opts: Opts) -> RhaiResult<Netns> {
        netns::validate_netns_name(name).or_script()?;
        let ipv6 = opts.bool("ipv6")?.unwrap_or(false);
        self.apply(
            ctx,
            Op::NetnsAdd {
                name: name.into(),
                ipv6,
            },
        )?;
        Ok(Netns(NsRef::Named(name.into())))
    }

    fn open_netns(&self, ns: NsRef) -> RhaiResult<Netns> {
        self.inspect(|i| i.netns_exists(&ns))?;
        Ok(Netns(ns))
    }
}

pub fn register(engine: &mut Engine, api: &Api) {
    engine
        .register_type_with_name::<Netns>("Netns")
        .register_get("name", |ns: &mut Netns| ns.name())
        .register_fn("to_string", |ns: &mut Netns| format!("netns {}", ns.name()))
        .register_fn("to_debug", |ns: &mut Netns| format!("netns {}", ns.name()))
        .register_fn("==", |a: Netns, b: Netns| a == b)
        .register_fn("!=", |a: Netns, b: Netns| a != b);
    let a = api.clone();
    api!(
        engine,
        "netns",
        ["name: &str", "Netns"],
        "Create a named network namespace (`ip netns add`), lo up, IPv6 off unless asked for.",
        move |ctx: NativeCallContext, name: &str| a.create_netns(&ctx, name, Opts::empty("netns"))
    );
    let a = api.clone();
    api!(
        engine,
        "netns",
        ["name: &str", "options: Map", "Netns"],
        "Create a namespace with options: #{ ipv6: true } keeps IPv6 on for its interfaces.",
        move |ctx: NativeCallContext, name: &str, opts: Map| a.create_netns(
            &ctx,
            name,
            Opts::new("netns", opts, &["ipv6"])?
        )
    );
    let a = api.clone();
    api!(engine, "netns_open", ["name: &str", "Netns"],
        "Use an existing named namespace (one `ip netns add` or another run made); it is not deleted on rollback.",
        move |name: &str| {
            netns::validate_netns_name(name).or_script()?;
            a.open_netns(NsRef::Named(name.into()))
        });
    let a = api.clone();
    api!(
        engine,
        "netns_pid",
        ["pid: i64", "Netns"],
        "The namespace of a running process (/proc/PID/ns/net), e.g. a Docker container's.",
        move |pid: i64| match u32::try_from(pid) {
            Ok(pid) if pid > 0 => a.open_netns(NsRef::Pid(pid)),
            _ => fail(format!("netns_pid(): {pid} is not a process id")),
        }
    );
    let a = api.clone();
    api!(
        engine,
        "netns_path",
        ["path: &str", "Netns"],
        "A namespace by its file (a container runtime's /run/netns/NAME, /proc/PID/ns/net); never deleted by plumb.",
        move |path: &str| {
            if !path.starts_with('/') {
                return fail(format!("netns_path(): '{path}' is not an absolute path"));
            }
            a.open_netns(NsRef::Path(path.into()))
        }
    );
    api!(
        engine,
        "host",
        ["Netns"],
        "The namespace plumb runs in (in --sandbox, the sandbox's own).",
        || Netns(NsRef::Host)
    );
    api!(
        engine,
        "netns_list",
        ["Array"],
        "Names of the namespaces under /run/netns (`ip netns list`).",
        || netns::list_named()
            .into_iter()
            .map(Dynamic::from)
            .collect::<Array>()
    );
}
