//! `plumb graph [RUN... | --live | --input FILE] [--format F] [-o FILE]`:
//! draw what runs made, or the kernel as it is.

use std::path::{Path, PathBuf};

use crate::cli::{GraphFormat, Renderer};
use crate::error::{Error, Result};
use crate::graph::{dot, json, mermaid, model, svg};
use crate::schema::Graph;
use plumb_journal::Journal;
use plumb_kernel::Kernel;

pub struct GraphArgs {
    pub runs: Vec<String>,
    pub live: bool,
    pub input: Option<PathBuf>,
    pub format: Option<GraphFormat>,
    pub output: Option<PathBuf>,
    pub renderer: Renderer,
}

/// The format a file's extension asks for.
pub fn format_of(path: &Path) -> Option<GraphFormat> {
    match path.extension()?.to_str()? {
        "svg" => Some(GraphFormat::Svg),
        "dot" | "gv" => Some(GraphFormat::Dot),
        "mmd" | "mermaid" => Some(GraphFormat::Mermaid),
        "json" => Some(GraphFormat::Json),
        _ => None,
    }
}

pub fn render(graph: &Graph, format: GraphFormat, renderer: Renderer) -> Result<String> {
    Ok(match format {
        GraphFormat::Dot => dot::render(graph),
        GraphFormat::Mermaid => mermaid::render(graph),
        GraphFormat::Json => json::render(graph),
        GraphFormat::Svg => match renderer {
            Renderer::Builtin => svg::render(graph),
            Renderer::Graphviz if !svg::graphviz_available() => {
                return Err(Error::Usage(
                    "--renderer graphviz: Graphviz's dot is not installed; --renderer builtin draws without it".into(),
                ))
            }
            Renderer::Graphviz => svg::with_graphviz(graph)?,
        },
    })
}

/// Write the rendered graph to `output`, or to standard output.
pub fn write(text: &str, output: Option<&Path>) -> Result<()> {
    match output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| Error::io(format!("write {}", path.display()), e)),
        None => super::print_lines([text.trim_end().to_string()]),
    }
}

/// The runs drawn when none is named: every run with changes in place.
fn live_runs() -> Result<Vec<Journal>> {
    let runs = super::status::live_runs()?;
    if runs.is_empty() {
        return Err(Error::Usage(
            "no run has changes in place: name a run (`plumb journal list`), or draw the kernel with --live".into(),
        ));
    }
    Ok(runs)
}

pub fn graph(args: GraphArgs) -> Result<()> {
    let graph = if let Some(path) = &args.input {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        json::parse(&text, &path.display().to_string())?
    } else if args.live {
        model::live(&Kernel::new()?)?
    } else {
        let journals = if args.runs.is_empty() {
            live_runs()?
        } else {
            args.runs
                .iter()
                .map(|r| Journal::load(r))
                .collect::<std::result::Result<Vec<_>, _>>()?
        };
        model::from_runs(&journals.iter().collect::<Vec<_>>())
    };
    let format = args
        .format
        .or_else(|| args.output.as_deref().and_then(format_of))
        .unwrap_or(GraphFormat::Svg);
    write(
        &render(&graph, format, args.renderer)?,
        args.output.as_deref(),
    )
}
