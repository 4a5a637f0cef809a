//! plumb's standard library: the Rhai modules in `stdlib/`, built into the
//! binary so `import "docker" as docker;` works wherever plumb is installed.
//! Stdlib names are resolved first, so a script named docker.rhai cannot
//! shadow the stdlib by accident; `import "./docker"` reaches a local file.

use std::collections::HashMap;
use std::sync::Mutex;

use rhai::module_resolvers::ModuleResolver;
use rhai::{Engine, EvalAltResult, Module, Position, Scope, Shared};

type SharedModule = Shared<Module>;

/// (import name, source) of every stdlib module written in Rhai.
pub const MODULES: &[(&str, &str)] = &[
    ("check", include_str!("../../stdlib/check.rhai")),
    ("docker", include_str!("../../stdlib/docker.rhai")),
    ("overlay", include_str!("../../stdlib/overlay.rhai")),
];

/// Resolves stdlib module names, compiling each once per engine. Native
/// modules (written in Rust) are given ready-made.
pub struct StdlibResolver {
    loaded: Mutex<HashMap<&'static str, SharedModule>>,
}

impl StdlibResolver {
    pub fn new(native: Vec<(&'static str, Module)>) -> Self {
        let loaded = native
            .into_iter()
            .map(|(name, module)| (name, Shared::new(module)))
            .collect();
        StdlibResolver {
            loaded: Mutex::new(loaded),
        }
    }
}

impl ModuleResolver for StdlibResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        if let Some(module) = self.loaded.lock().expect("stdlib cache").get(path) {
            return Ok(module.clone());
        }
        let Some(&(name, source)) = MODULES.iter().find(|(name, _)| *name == path) else {
            return Err(EvalAltResult::ErrorModuleNotFound(path.into(), pos).into());
        };
        let in_module = |err| Box::new(EvalAltResult::ErrorInModule(path.into(), err, pos));
        let mut ast = engine.compile(source).map_err(|e| in_module(e.into()))?;
        ast.set_source(format!("stdlib/{name}.rhai"));
        let module: SharedModule =
            Shared::new(Module::eval_ast_as_new(Scope::new(), &ast, engine).map_err(in_module)?);
        self.loaded
            .lock()
            .expect("stdlib cache")
            .insert(name, module.clone());
        Ok(module)
    }
}

/// The documented functions of the stdlib's Rhai modules, as `module::name(params)`.
pub fn reference(engine: &Engine) -> Vec<super::FnDoc> {
    let mut docs = Vec::new();
    for (module, source) in MODULES {
        let Ok(ast) = engine.compile(source) else {
            continue;
        };
        for f in ast.iter_functions() {
            if f.comments.is_empty() {
                continue; // helpers
            }
            docs.push(super::FnDoc {
                name: format!("{module}::{}", f.name),
                signature: format!("{module}::{}({})", f.name, f.params.join(", ")),
                doc: f
                    .comments
                    .iter()
                    .flat_map(|c| c.lines())
                    .map(|line| line.trim().trim_start_matches("///").trim())
                    .collect::<Vec<_>>()
                    .join(" "),
            });
        }
    }
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stdlib_module_compiles_and_documents_its_functions() {
        let mut engine = Engine::new();
        engine.set_max_expr_depths(128, 64); // as plumb's engine: debug builds default lower
        for (name, source) in MODULES {
            let ast = engine
                .compile(source)
                .unwrap_or_else(|e| panic!("stdlib/{name}.rhai: {e}"));
            assert!(
                ast.iter_functions().count() > 0,
                "stdlib/{name}.rhai has no functions"
            );
        }
        let docs = reference(&engine);
        assert!(docs
            .iter()
            .any(|d| d.signature == "docker::run(name, network, opts)"));
        assert!(docs.iter().any(|d| d.name == "check::assert_reachable"));
    }
}
