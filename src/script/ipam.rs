//! The `ipam` module (`import "ipam" as ipam;`): address pools for scripts.
//! Native, because a pool is shared state: every copy of a pool (passed to a
//! function, stored in a map) hands out from the same addresses.

use std::cell::RefCell;
use std::rc::Rc;

use rhai::{Engine, FuncRegistration, Module, NativeCallContext};

use super::convert::{planned, script_error, OrScript, RhaiResult};
use super::Api;
use crate::ipam::Pool;

#[derive(Clone)]
pub struct SharedPool(Rc<RefCell<Pool>>);

/// Register the pool type's methods on the engine and return the module;
/// with the run's `api`, the module leases addresses too.
pub fn module(engine: &mut Engine, api: Option<&Api>) -> Module {
    engine
        .register_type_with_name::<SharedPool>("Pool")
        .register_get("gateway", |p: &mut SharedPool| p.0.borrow().gateway())
        .register_get("subnet", |p: &mut SharedPool| p.0.borrow().subnet())
        .register_get("in_use", |p: &mut SharedPool| p.0.borrow().in_use() as i64)
        .register_fn("to_string", |p: &mut SharedPool| {
            format!("pool {}", p.0.borrow().subnet())
        })
        .register_fn("to_debug", |p: &mut SharedPool| {
            format!("pool {}", p.0.borrow().subnet())
        });
    FuncRegistration::new("next")
        .with_params_info(["pool: Pool", "String"])
        .with_comments([
            "/// The next free address of the pool, with its prefix (\"172.18.0.2/16\").",
        ])
        .register_into_engine(engine, |p: &mut SharedPool| -> RhaiResult<String> {
            p.0.borrow_mut().next().or_script()
        });
    FuncRegistration::new("reserve")
        .with_params_info(["pool: Pool", "n: i64", "String"])
        .with_comments([
            "/// Reserve host number `n` (next() skips it) and return it with its prefix.",
        ])
        .register_into_engine(engine, |p: &mut SharedPool, n: i64| -> RhaiResult<String> {
            p.0.borrow_mut().take(n.max(0) as u128).or_script()
        });
    FuncRegistration::new("reserve")
        .with_params_info(["pool: Pool", "addr: &str", "String"])
        .with_comments(["/// Reserve an address given as text (\"172.18.0.10\") and return it with the pool's prefix."])
        .register_into_engine(engine, |p: &mut SharedPool, addr: &str| -> RhaiResult<String> {
            p.0.borrow_mut().claim(addr).or_script()
        });
    let mut module = Module::new();
    if let Some(api) = api {
        let a = api.clone();
        FuncRegistration::new("lease")
            .with_params_info(["subnet: &str", "key: &str", "String"])
            .with_comments(["/// Lease an address of `subnet` to `key` (a container id): the lowest one no live run holds, host 1 (the gateway) never; journaled, so rollback releases it and runs at the same time never share one."])
            .set_into_module(&mut module, move |ctx: NativeCallContext, subnet: &str, key: &str| -> RhaiResult<String> {
// Rhai leaves the position of a module function's error empty.
                let at = |mut e: Box<rhai::EvalAltResult>| {
                    e.set_position(ctx.call_position());
                    e
                };
                let net = planned("ipam::lease", crate::plan::addressing::parse_subnet(subnet))
                    .map_err(at)?;
                let mut session = a.session.borrow_mut();
                session.set_origin(a.origin(&ctx));
                session
                    .lease(net, key)
                    .map(|addr| addr.to_string())
                    .or_script()
                    .map_err(at)
            });
    }
    FuncRegistration::new("pool")
        .with_params_info(["subnet: &str", "Pool"])
        .with_comments(["/// A pool of the subnet's host addresses: .gateway is the first, next() hands out the rest (no broadcast)."])
        .set_into_module(&mut module, |ctx: NativeCallContext, subnet: &str| -> RhaiResult<SharedPool> {
            let pool = Pool::new(subnet).map_err(|e| {
                // Rhai leaves the position of a module function's error empty.
                let mut e = script_error(format!("ipam::pool(): {e}"));
                e.set_position(ctx.call_position());
                e
            })?;
            Ok(SharedPool(Rc::new(RefCell::new(pool))))
        });
    module
}

/// The module's own functions (`ipam::pool`); Pool's methods are in the
/// main engine's metadata already.
pub fn reference() -> Vec<super::FnDoc> {
    let mut engine = Engine::new();
    // A dry-run session, so that the run-bound functions are documented too.
    let api = plumb_kernel::Kernel::new().ok().map(|kernel| {
        let session = plumb_journal::Session::dry_run(kernel, Box::new(std::io::sink()));
        Api::new(Rc::new(RefCell::new(session)), Default::default())
    });
    let module = module(&mut engine, api.as_ref());
    engine.register_static_module("ipam", module.into());
    super::documented(&engine)
        .into_iter()
        .filter(|d| d.name.starts_with("ipam::"))
        .collect()
}
