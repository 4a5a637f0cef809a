//! Programs: exec_in() runs one to completion, spawn_in() starts one in the
//! background (journaled: rollback stops it and everything it started).

use std::time::Duration;

use rhai::{Array, Engine, Map, NativeCallContext};

use super::convert::{fail, strings, Netns, Opts, OrScript, RhaiResult};
use super::Api;
use plumb_journal::Op;
use plumb_kernel::NsRef;

/// Default limit for `exec_in`, so a hung program cannot hang a run.
const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(30);

fn exec_result(out: &plumb_kernel::process::ExecOutput) -> Map {
    let mut m = Map::new();
    m.insert("code".into(), out.code.into());
    m.insert("ok".into(), (out.code == 0 && !out.timed_out).into());
    m.insert("stdout".into(), out.stdout.clone().into());
    m.insert("stderr".into(), out.stderr.clone().into());
    m.insert("timed_out".into(), out.timed_out.into());
    m
}

impl Api {
    fn exec_in(
        &self,
        ctx: &NativeCallContext,
        ns: NsRef,
        argv: Array,
        opts: Opts,
    ) -> RhaiResult<Map> {
        let argv = strings(argv, "exec_in")?;
        let timeout = opts
            .seconds("timeout")?
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_EXEC_TIMEOUT);
        let check = opts.bool("check")?.unwrap_or(false);
        let out = {
            let mut session = self.session.borrow_mut();
            session.set_origin(self.origin(ctx));
            session.exec(&ns, &argv, timeout).or_script()?
        };
        if super::INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed) {
            return fail(format!("exec_in({:?}) was interrupted", argv.join(" ")));
        }
        if check && (out.code != 0 || out.timed_out) {
            let why = if out.timed_out {
                format!("timed out after {timeout:?}")
            } else {
                format!("exited with {}", out.code)
            };
            return fail(format!(
                "exec_in({}, {:?}) {why}: {}",
                ns.short_name(),
                argv.join(" "),
                out.stderr.trim()
            ));
        }
        Ok(exec_result(&out))
    }
}

pub fn register(engine: &mut Engine, api: &Api) {
    let a = api.clone();
    api!(
        engine,
        "exec_in",
        ["ns: Netns", "argv: Array", "Map"],
        "Run a program in `ns` and wait (30 s limit): #{ code, ok, stdout, stderr, timed_out }.",
        move |ctx: NativeCallContext, ns: Netns, argv: Array| a.exec_in(
            &ctx,
            ns.0,
            argv,
            Opts::empty("exec_in")
        )
    );
    let a = api.clone();
    api!(
        engine,
        "exec_in",
        ["ns: Netns", "argv: Array", "options: Map", "Map"],
        "Run a program in `ns` with #{ timeout: SECONDS, check: true (throw unless it exits 0) }.",
        move |ctx: NativeCallContext, ns: Netns, argv: Array, opts: Map| a.exec_in(
            &ctx,
            ns.0,
            argv,
            Opts::new("exec_in", opts, &["timeout", "check"])?
        )
    );
    let a = api.clone();
    api!(
        engine,
        "spawn_in",
        ["ns: Netns", "argv: Array", "()"],
        "Start a background program in `ns` (e.g. a server); rollback stops it and whatever it started.",
        move |ctx: NativeCallContext, ns: Netns, argv: Array| {
            let argv = strings(argv, "spawn_in")?;
            a.apply(&ctx, Op::Spawn { ns: ns.0, argv })
        }
    );
}
