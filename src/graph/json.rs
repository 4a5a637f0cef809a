//! The graph as JSON (schema plumb/graph/1, docs/json.md), and back: a
//! saved graph is drawn again with `plumb graph --input FILE`.

use crate::error::{Error, Result};
use crate::schema::{Graph, GRAPH_SCHEMA};

pub fn render(graph: &Graph) -> String {
    serde_json::to_string_pretty(graph).expect("graphs serialize") + "\n"
}

/// Read a graph `render` wrote; `from` names the text in errors.
pub fn parse(text: &str, from: &str) -> Result<Graph> {
    let graph: Graph = serde_json::from_str(text)
        .map_err(|e| Error::Usage(format!("{from}: not a plumb graph: {e}")))?;
    if graph.schema != GRAPH_SCHEMA {
        return Err(Error::Usage(format!(
            "{from}: schema '{}', this plumb reads '{GRAPH_SCHEMA}'",
            graph.schema
        )));
    }
    Ok(graph)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphs_round_trip() {
        let graph = super::super::fixture::graph();
        let text = render(&graph);
        assert_eq!(parse(&text, "t.json").unwrap(), graph);
        assert!(text.contains("\"kind\": \"veth\""), "{text}");
        let other = text.replace(GRAPH_SCHEMA, "plumb/graph/9");
        let err = parse(&other, "t.json").unwrap_err().to_string();
        assert!(err.contains("schema 'plumb/graph/9'"), "{err}");
    }
}
